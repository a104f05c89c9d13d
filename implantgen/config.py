"""The config's [lesion] and [feasibility] sections, checked before any work: a wrong key or
value is one sentence naming it (exit 2), not a failure deep in the lesion search.
(The design sections are checked in design.params.)"""

from __future__ import annotations

import math
from dataclasses import fields

from .errors import InputError
from .plan import FeasibilityLimits
from .segment.lesion import LesionCriteria


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _value(name: str, key: str, value, default):
    where = f"The config's {name}.{key} = {value!r}"
    if isinstance(default, tuple):  # a HU range: two numbers, low first (HU may be negative)
        if not (isinstance(value, list) and len(value) == 2 and all(_number(v) for v in value)
                and value[0] < value[1]):
            raise InputError(f"{where} is not a range [low, high] of two numbers: write it like [{default[0]:g}, {default[1]:g}].")
        return tuple(value)
    if not _number(value) or value <= 0:
        raise InputError(f"{where} is not a positive number: fix it.")
    return value


def _section(config: dict | None, name: str, cls):
    values = (config or {}).get(name, {})
    if not isinstance(values, dict):
        raise InputError(f"The config's [{name}] must be a table of settings: see the README.")
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InputError(f"The config's [{name}] has unknown setting(s) {', '.join(unknown)}: "
                         f"known are {', '.join(known)}.")
    defaults = cls()
    return cls(**{k: _value(name, k, v, getattr(defaults, k)) for k, v in values.items()})


def lesion_criteria(config: dict | None) -> LesionCriteria:
    return _section(config, "lesion", LesionCriteria)


def feasibility_limits(config: dict | None) -> FeasibilityLimits:
    return _section(config, "feasibility", FeasibilityLimits)
