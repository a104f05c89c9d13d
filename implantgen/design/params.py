"""Design parameters: every number the implant and plate are built from, in one place.

Defaults come from ``docs/domain.md`` (shared/docs): a 2 mm cement mantle each side for a
cemented stem, stems of about 60-100 mm, 4.5 mm cortical screws with a 3.2 mm drill, a 4.5 plate
about 12 mm wide and 2.8-4 mm thick with holes about 16 mm apart, at least 3 screws per main
fragment, holes at least one diameter from an edge, walls >= 0.8 mm, overhangs below 45 degrees.
A TOML file (``--config``) overrides any of them, section by section (see the README).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from ..errors import InputError


@dataclass(frozen=True)
class BodyParams:
    collar_mm: float = 4.0  # end of the body shaped exactly as the cut face it seats on
    restore_pad_mm: float = 2.0  # levels this close to the lesion are rebuilt from healthy bone
    angles: int = 72  # samples around the bone's outline
    level_mm: float = 1.0  # spacing of cross-sections along the axis
    mirror: bool = False  # take the shape over the lesion from the mirrored other side, if scanned


@dataclass(frozen=True)
class StemParams:
    fixation: str = "cemented"  # "cemented": canal minus a cement mantle each side; "press-fit"
    cement_mantle_mm: float = 2.0  # domain notes: 2 mm mantle each side
    press_fit_clearance_mm: float = 0.25  # press-fit: this much under the canal on each side
    max_length_mm: float = 100.0  # domain notes: stems of about 60-100 mm
    min_length_mm: float = 60.0  # shorter stems are reported as a warning
    min_diameter_mm: float = 6.0  # a thinner stem cannot carry a cross screw
    tip_clearance_mm: float = 15.0  # the tip stays this far from the bone's end (joint)
    taper_mm: float = 10.0  # rounded-off tip over this length
    cortex_hu: float | None = None  # canal boundary; None: halfway between marrow and cortex


@dataclass(frozen=True)
class PlateParams:
    side: str | tuple = "lateral"  # lateral, medial, anterior, posterior, or an LPS vector
    width_mm: float = 12.0  # domain notes: a 4.5 plate is about 12 mm wide
    thickness_mm: float = 3.5  # domain notes: 2.8-4 mm
    offset_mm: float = 1.0  # gap to the bone surface: the plate conforms, it does not press
    smoothing_mm: float = 3.0  # the plate follows the bone's shape, not its voxels


@dataclass(frozen=True)
class ScrewParams:
    screw_mm: float = 4.5  # cortical screw
    drill_mm: float = 3.2  # domain notes: a 4.5 mm screw takes a 3.2 mm drill (bone and implant)
    plate_hole_mm: float = 5.0  # the screw passes the plate with 0.25 mm clearance each side
    spacing_mm: float = 16.0  # domain notes: hole spacing about 16 mm
    per_bone_end: int = 3  # domain notes: at least 3 screws per main fragment
    from_cut_mm: float = 12.0  # first bone screw this far from the cut: none in the margin zone
    implant_from_cut_mm: float = 8.0  # implant screws stay this far from its end faces
    far_cortex_mm: float = 2.0  # bicortical: the tip passes the far cortex by this much
    length_step_mm: float = 2.0  # screws come in 2 mm steps


@dataclass(frozen=True)
class PrintParams:
    min_wall_mm: float = 0.8  # domain notes: >= 0.8 mm for tall walls
    overhang_deg: float = 45.0  # domain notes: below 45 degrees from horizontal needs support
    build_volume_mm: tuple = (250.0, 210.0, 210.0)  # a common desktop/LPBF class build volume
    min_hole_mm: float = 1.0


@dataclass(frozen=True)
class DesignParams:
    body: BodyParams = field(default_factory=BodyParams)
    stem: StemParams = field(default_factory=StemParams)
    plate: PlateParams = field(default_factory=PlateParams)
    screws: ScrewParams = field(default_factory=ScrewParams)
    printing: PrintParams = field(default_factory=PrintParams)

    def as_dict(self) -> dict:
        return asdict(self)


_SECTIONS = {"body": BodyParams, "stem": StemParams, "plate": PlateParams, "screws": ScrewParams,
             "printing": PrintParams}
DESIGN_SECTIONS = tuple(_SECTIONS)


def finite(value) -> bool:
    """A config value that is a finite number (TOML's true/false and inf are not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive(value) -> bool:
    return finite(value) and value > 0


def check_table(name: str, cls, values) -> None:
    """The config's section ``name`` is a table whose keys are ``cls``'s fields (every section,
    design or not: implantgen.config uses it too)."""
    if not isinstance(values, dict):
        raise InputError(f"The config's [{name}] must be a table of settings: see the README.")
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InputError(f"The config's [{name}] has unknown setting(s) {', '.join(unknown)}: "
                         f"known are {', '.join(known)}.")


def _section(name: str, cls, values: dict):
    check_table(name, cls, values)
    clean = {}
    for key, value in values.items():
        default = getattr(cls(), key)
        if isinstance(value, list):
            value = tuple(value)
        if isinstance(default, bool) and not isinstance(value, bool):
            raise InputError(f"The config's {name}.{key} = {value!r} must be true or false.")
        if isinstance(default, tuple) and all(isinstance(v, float) for v in default):  # build volume
            if not (isinstance(value, tuple) and len(value) == len(default) and all(_positive(v) for v in value)):
                raise InputError(f"The config's {name}.{key} = {list(value) if isinstance(value, tuple) else value!r} "
                                 f"is not {len(default)} positive numbers: write it like {list(default)}.")
        if default is None and value is not None and not finite(value):  # e.g. stem.cortex_hu
            raise InputError(f"The config's {name}.{key} = {value!r} is not a number: fix it.")
        if isinstance(default, (int, float)) and not isinstance(default, bool) and default is not None:
            if not _positive(value):
                raise InputError(f"The config's {name}.{key} = {value!r} is not a positive number: fix it.")
            value = type(default)(value) if isinstance(default, float) or float(value).is_integer() else value
        clean[key] = value
    return cls(**clean)


def design_params(config: dict | None) -> DesignParams:
    """The parameters for a config (the TOML file's dict); unknown keys are an InputError."""
    config = config or {}
    made = {name: _section(name, cls, config.get(name, {})) for name, cls in _SECTIONS.items()}
    p = DesignParams(**made)
    _check(p)
    return p


def _check(p: DesignParams) -> None:
    if p.stem.fixation not in ("cemented", "press-fit"):
        raise InputError(f"stem.fixation = {p.stem.fixation!r}: give \"cemented\" or \"press-fit\".")
    side = p.plate.side
    if isinstance(side, str) and side not in ("lateral", "medial", "anterior", "posterior"):
        raise InputError(f"plate.side = {side!r}: give lateral, medial, anterior, posterior or [x, y, z].")
    if not isinstance(side, str) and (len(side) != 3 or not all(finite(v) for v in side)
                                      or not any(side)):
        raise InputError(f"plate.side = {list(side)}: a direction needs three numbers [x, y, z] (LPS), "
                         "not all zero.")
    s = p.screws
    if s.plate_hole_mm <= s.screw_mm:
        raise InputError(f"screws.plate_hole_mm ({s.plate_hole_mm}) must exceed screws.screw_mm "
                         f"({s.screw_mm}) for the screw to pass the plate.")
    if s.drill_mm >= s.screw_mm:
        raise InputError(f"screws.drill_mm ({s.drill_mm}) must be below screws.screw_mm ({s.screw_mm}).")
    if s.spacing_mm < 2 * s.plate_hole_mm:
        raise InputError(f"screws.spacing_mm ({s.spacing_mm}) leaves too little plate between holes of "
                         f"{s.plate_hole_mm} mm: give at least twice the hole size.")
    ligament = (p.plate.width_mm - s.plate_hole_mm) / 2
    if ligament < p.printing.min_wall_mm:
        raise InputError(f"A {p.plate.width_mm} mm plate with {s.plate_hole_mm} mm holes leaves "
                         f"{ligament:.2f} mm beside each hole, under the {p.printing.min_wall_mm} mm "
                         "minimum wall: widen the plate or use smaller screws.")
    if s.per_bone_end < 1 or not float(s.per_bone_end).is_integer():
        raise InputError(f"screws.per_bone_end = {s.per_bone_end}: give a whole number, at least 1.")
