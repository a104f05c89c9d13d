"""The config's [lesion] and [feasibility] sections, checked before any work: a wrong key or
value is one sentence naming it (exit 2), not a failure deep in the lesion search.
(The design sections are checked in design.params.)"""

from __future__ import annotations

from .design.params import check_table, finite
from .errors import InputError
from .records import FeasibilityLimits, LesionCriteria


def _value(name: str, key: str, value, default):
    where = f"The config's {name}.{key} = {value!r}"
    if isinstance(default, tuple):  # a HU range: two numbers, low first (HU may be negative)
        if not (isinstance(value, list) and len(value) == 2 and all(finite(v) for v in value)
                and value[0] < value[1]):
            raise InputError(f"{where} is not a range [low, high] of two numbers: write it like [{default[0]:g}, {default[1]:g}].")
        return tuple(value)
    if not finite(value) or value <= 0:
        raise InputError(f"{where} is not a positive number: fix it.")
    return value


def _section(config: dict | None, name: str, cls):
    values = (config or {}).get(name, {})
    check_table(name, cls, values)
    defaults = cls()
    return cls(**{k: _value(name, k, v, getattr(defaults, k)) for k, v in values.items()})


def lesion_criteria(config: dict | None) -> LesionCriteria:
    return _section(config, "lesion", LesionCriteria)


def feasibility_limits(config: dict | None) -> FeasibilityLimits:
    return _section(config, "feasibility", FeasibilityLimits)
