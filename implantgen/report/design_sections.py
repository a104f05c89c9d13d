"""The report's design sections, from plan.json: implant, plate, printability, surfaces, warnings."""

from __future__ import annotations

from .html import bullet_list, esc, na, num, pairs, table, vec, verdict


def implant_section(plan: dict) -> str:
    imp = plan.get("implant")
    if not imp:
        return f"<p>{na('Implant: not available (no design in plan.json).')}</p>"
    body = imp.get("body") or {}
    rows = [("length", num(imp.get("length_mm"), "mm")), ("volume", num(imp.get("volume_ml"), "ml")),
            ("collar at each cut", num(body.get("collar_mm"), "mm")),
            ("shape over the lesion", esc(body.get("shape_over_lesion", "not available"))),
            ("rebuilt from healthy bone (from the low cut)",
             "{:.1f} to {:.1f} mm".format(*body["rebuilt_from_healthy_bone_mm"])
             if body.get("rebuilt_from_healthy_bone_mm") else na()),
            ("cortex edge taken at", num(body.get("cortex_hu"), "HU"))]
    stems = table(["side", "fixation", "diameter", "tip diameter", "length", "canal at the cut", "length limited by"],
                  [[esc(s.get("side", "")), esc(s.get("fixation", "")), num(s.get("diameter_mm"), "mm"),
                    num(s.get("tip_diameter_mm"), "mm"), num(s.get("length_mm"), "mm"),
                    num(s.get("canal_diameter_at_cut_mm"), "mm"), esc(s.get("length_limited_by", ""))]
                   for s in imp.get("stems", [])])
    return pairs(rows) + "<h3>Stems</h3>" + stems + "<h3>Screw holes</h3>" + _holes(imp.get("screw_holes", []))


def _holes(holes: list[dict]) -> str:
    if not holes:
        return f"<p>{na('no screw holes')}</p>"
    rows = [[str(n + 1), esc(h.get("in", "")), num(h.get("position_from_low_cut_mm"), "mm"),
             num(h.get("diameter_mm"), "mm"), num(h.get("plate_hole_diameter_mm"), "mm"),
             num(h.get("screw_length_mm"), "mm", 0), num(h.get("through_stem")),
             vec(h.get("center")), vec(h.get("axis"), 3)] for n, h in enumerate(holes)]
    return table(["hole", "in", "from the low cut", "drill hole", "plate hole", "screw length", "through a stem",
                  "centre (LPS mm)", "axis"], rows) + \
        "<p>Bone holes are drilled at surgery; implant holes are printed along the same screw axes.</p>"


def plate_section(plan: dict) -> str:
    plate = plan.get("plate")
    if not plate:
        return f"<p>{na('Plate: not available (no plate in plan.json).')}</p>"
    per = plate.get("holes_per_side") or {}
    span = plate.get("span_from_low_cut_mm")
    rows = [("side", esc(plate.get("side", "not available"))), ("length", num(plate.get("length_mm"), "mm")),
            ("width x thickness", f"{num(plate.get('width_mm'), 'mm')} x {num(plate.get('thickness_mm'), 'mm')}"),
            ("inner face off the bone", num(plate.get("offset_from_bone_mm"), "mm")),
            ("holes", num(plate.get("holes")) + (" (" + ", ".join(f"{esc(k)} {v}" for k, v in per.items()) + ")"
                                               if per else "")),
            ("hole diameter", num(plate.get("hole_diameter_mm"), "mm")),
            ("hole spacing", num(plate.get("hole_spacing_mm"), "mm")),
            ("end hole edge to plate end", num(plate.get("end_distance_mm"), "mm")),
            ("span from the low cut", "{:.1f} to {:.1f} mm".format(*span) if span else na()),
            ("volume", num(plate.get("volume_ml"), "ml"))]
    return pairs(rows)


def _check_rows(r: dict) -> list[list[str]]:
    """One row per printability check: what, pass/fail (the pipeline's own rules), the numbers."""
    wall, holes = r.get("thinnest_wall_mm"), r.get("holes", [])
    build = " x ".join(f"{x:g}" for x in r.get("build_volume_mm", []))
    extent = " x ".join(f"{x:.1f}" for x in r.get("extent_mm", []))
    return [
        ["closed", verdict(r.get("closed")), f"{num(r.get('open_edges'))} open edges"],
        ["oriented, outward", verdict(r.get("oriented") and r.get("outward")),
         f"oriented {num(r.get('oriented'))}, outward {num(r.get('outward'))}"],
        ["one body, no voids", verdict(r.get("bodies") == 1 and not r.get("voids")),
         f"{num(r.get('bodies'))} body(ies), {num(r.get('voids'))} void(s)"],
        ["self-intersections", verdict(not r.get("self_intersections")),
         f"{num(r.get('self_intersections'))} crossing pairs, {num(r.get('self_contacts'))} contacts"],
        ["thinnest wall", verdict(None if wall is None else wall >= r.get("min_wall_mm", 0)),
         f"{num(wall, 'mm', 2)} (minimum {num(r.get('min_wall_mm'), 'mm')}; "
         f"{num(r.get('wall_measured'))} of {num(r.get('wall_samples'))} samples measured)"],
        ["hole diameters", verdict(all(h.get("ok") for h in holes)),
         ", ".join(f"{h['diameter_mm']:g} mm" for h in holes) + f" (minimum {num(r.get('min_hole_mm'), 'mm')})"],
        ["fits the build volume", verdict(r.get("fits_build_volume")),
         f"{esc(extent)} mm in a {esc(build)} mm volume"],
        ["overhang (needs support)", "info",
         f"{num(r.get('overhang_area_mm2'), 'mm²', 0)} beyond {num(r.get('overhang_deg'), 'deg', 0)} "
         f"building along {vec(r.get('build_direction'), 2)} (the best orientation tried)"],
    ]


def printability_section(plan: dict) -> str:
    printing = plan.get("printability") or {}
    out = []
    for part in ("implant.stl", "plate.stl"):
        r = printing.get(part)
        if r is None:
            out.append(f"<h3>{esc(part)}</h3><p>{na()}</p>")
            continue
        head = f"<h3>{esc(part)}: {verdict(r.get('passed'))}</h3>"
        info = (f"<p>{num(r.get('triangles'))} triangles, {num(r.get('volume_ml'), 'ml', 2)}; "
                f"read back from the STL: {_readback(r.get('stl_read_back'))}.</p>")
        fails = bullet_list([esc(f) for f in r["failures"]], "warn") if r.get("failures") else ""
        out.append(head + table(["check", "result", "numbers"], _check_rows(r)) + info + fails)
    return "".join(out)


def _readback(rb: dict | None) -> str:
    if not rb:
        return na()
    ok = rb.get("watertight") and rb.get("winding_consistent") and rb.get("outward")
    return f"{verdict(ok)} ({num(rb.get('volume_ml'), 'ml', 2)}, {num(rb.get('bodies'))} body)"


def surfaces_section(plan: dict) -> str:
    meshes = plan.get("meshes") or {}
    if not meshes:
        return f"<p>{na()}</p>"
    rows = [[esc(name), verdict(m.get("watertight") and m.get("outward")), num(m.get("volume_ml"), "ml", 2),
             num(None if m.get("volume_vs_mask") is None else 100 * m["volume_vs_mask"], "%", 2),
             num(m.get("triangles"))] for name, m in meshes.items()]
    return table(["surface", "closed and outward", "volume", "vs its mask", "triangles"], rows)


def warnings_section(plan: dict) -> str:
    warnings = plan.get("warnings") or []
    if not warnings:
        return "<p>None.</p>"
    return bullet_list([esc(w) for w in warnings], "warn")
