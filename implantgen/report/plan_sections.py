"""The report's plan sections, from plan.json: key numbers, lesion and osteotomies, fracture risk."""

from __future__ import annotations

from .html import NOT_AVAILABLE as NOT, esc, na, num, pairs, table, vec

# Mirels 1989 (domain notes): the total's fracture risk
_MIRELS_RISK = ((7, "fracture risk under about 4%"), (8, "fracture risk about 15%"),
                (99, "fracture risk 33% or more, where Mirels advises prophylactic fixation"))
_PAIN = {1: "mild", 2: "moderate", 3: "functional"}


def _lesion_length(plan: dict) -> float | None:
    ext = (plan.get("lesion") or {}).get("extent_along_axis_mm")
    return float(ext[1] - ext[0]) if ext else None


def key_numbers(plan: dict) -> str:
    """The few numbers a reader looks for first, in boxes at the top."""
    imp, plate = plan.get("implant") or {}, plan.get("plate") or {}
    stems = ", ".join(f"{s['diameter_mm']:g} x {s['length_mm']:.0f} mm" for s in imp.get("stems", []))
    printing = plan.get("printability") or {}
    passed = [r.get("passed") for r in printing.values()]
    boxes = [("resection length", num(plan.get("resection_length_mm"), "mm")),
             ("margin", num(plan.get("margin_mm"), "mm")),
             ("lesion along the axis", num(_lesion_length(plan), "mm")),
             ("stems (diameter x length)", esc(stems) if stems else na()),
             ("plate", num(plate.get("length_mm"), "mm", 0) + f", {num(plate.get('holes'))} holes"
              if plate else na()),
             ("printability", na() if not passed else
              ('<span class="pass">all checks pass</span>' if all(passed)
               else '<span class="fail">a check FAILED</span>'))]
    return '<div class="key">' + "".join(f"<div>{esc(k)}<b>{v}</b></div>" for k, v in boxes) + "</div>"


def _osteotomy_rows(plan: dict) -> list[list[str]]:
    details = plan.get("osteotomy_details") or [{} for _ in plan.get("osteotomies", [])]
    rows = []
    for n, (cut, d) in enumerate(zip(plan.get("osteotomies", []), details)):
        rows.append([str(n + 1), esc(d.get("side", "")), vec(cut["point"]), vec(cut["normal"], 3),
                     num(d.get("position_along_axis_mm"), "mm"), num(d.get("margin_mm"), "mm"),
                     num(d.get("angle_to_bone_axis_deg"), "deg", 2), num(d.get("bone_left_beyond_cut_mm"), "mm")])
    return rows


def plan_section(plan: dict) -> str:
    bone, lesion = plan.get("bone") or {}, plan.get("lesion") or {}
    axis = bone.get("axis") or {}
    ext = lesion.get("extent_along_axis_mm")
    involvement = lesion.get("cortical_involvement")
    rows = [("bone", esc(bone.get("name", NOT))),
            ("bone axis: point, direction (LPS mm)", f"{vec(axis.get('point'))}, {vec(axis.get('direction'), 3)}"),
            ("lesion type", esc(lesion.get("type", NOT))),
            ("lesion volume", num(lesion.get("volume_ml"), "ml")),
            ("lesion extent along the axis", (f"{ext[0]:.1f} to {ext[1]:.1f} mm from the axis point "
                                              f"({ext[1] - ext[0]:.1f} mm long)") if ext else na()),
            ("lesion median density", num(lesion.get("median_hu"), "HU", 0)),
            ("lesion source (detected, or a given mask)", esc(lesion.get("source", NOT))),
            ("cortical involvement (circumference)", num(None if involvement is None else 100 * involvement, "%")),
            ("margin requested", num(plan.get("margin_mm"), "mm")),
            ("resection length (between the planes on the axis)", num(plan.get("resection_length_mm"), "mm")),
            ("feasible", num(plan.get("feasible")))]
    cuts = table(["plane", "side", "point (LPS mm)", "normal", "position on axis", "margin achieved",
                  "angle to bone axis", "bone left beyond the cut"], _osteotomy_rows(plan))
    return (pairs(rows) + "<h3>Osteotomy planes</h3>" + cuts +
            "<p>Positions are measured from the axis point along the axis direction; each plane lies the "
            "margin beyond the lesion's farthest point on its side, perpendicular to the local axis.</p>")



def _mirels_meaning(total: int) -> str:
    return next(text for limit, text in _MIRELS_RISK if total <= limit)


def _mirels(risk: dict) -> str:
    m = risk.get("mirels") or {}
    if not m:
        return f"<p>{na('Mirels score: not available')}</p>"
    pain = m.get("pain")
    pain_cell = na("not entered (the CT cannot tell pain: give it with --pain)") if pain is None \
        else esc(f"{pain} ({_PAIN.get(pain, '')})")
    rows = [["site", num(m.get("site"))], ["lesion type", num(m.get("lesion_type"))],
            ["size", num(m.get("size"))], ["pain", pain_cell],
            ["total without pain", num(m.get("total_without_pain"))]]
    base = m.get("total_without_pain")
    if m.get("total") is not None:
        rows.append(["total", f"<b>{num(m['total'])}</b>: {esc(_mirels_meaning(m['total']))}"])
    elif base is not None:  # the CT cannot tell pain: show what each pain score would make
        rows.append(["total once pain is entered", "<br>".join(
            f"{esc(name)} pain ({score}): <b>{base + score}</b>, {esc(_mirels_meaning(base + score))}"
            for score, name in _PAIN.items())])
    return "<h3>Mirels score</h3>" + table(["item", "score (1-3)"], rows)


_CRITERIA = (
    ("circumferential_cortical_involvement_ge_30pct", "circumferential cortical involvement >= 30% (Tatar 2014)",
     "circumferential_cortical_involvement", "%"),
    ("axial_cortical_involvement_ge_30mm", "axial cortical involvement >= 30 mm (van der Wal 2020)",
     "axial_cortical_involvement_mm", "mm"),
    ("harrington_cortical_destruction_gt_50pct", "Harrington: cortical destruction > 50%",
     "circumferential_cortical_involvement", "%"),
    ("harrington_lesion_gt_25mm", "Harrington: lesion > 25 mm", None, "mm"),
)


def _criteria(risk: dict, plan: dict) -> str:
    crit = risk.get("criteria") or {}
    rows = []
    for key, label, value_key, unit in _CRITERIA:
        if value_key is None:
            value = _lesion_length(plan)
        else:
            value = risk.get(value_key)
            value = 100 * value if (value is not None and unit == "%") else value
        met = crit.get(key)
        rows.append([esc(label), num(value, unit),
                     na() if met is None else ('<span class="fail">met</span>' if met else "not met")])
    return "<h3>CT criteria</h3>" + table(["criterion", "value", "met"], rows)


def risk_section(plan: dict) -> str:
    risk = plan.get("risk") or {}
    if not risk:
        return f"<p>{na()}</p>"
    refs = f"<p>References: {esc(risk['references'])}.</p>" if risk.get("references") else ""
    return (_mirels(risk) + _criteria(risk, plan) + refs +
            "<p>These items inform the indication; they do not decide it. The surgeon weighs them with "
            "the expected survival, the patient's fitness for surgery and the other lesions.</p>")
