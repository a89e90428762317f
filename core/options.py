"""Model options checked once, against the ranges each model declares (`Harmonizer.options()`).

`vh harmonize`, `vh eval` and the server all call `check_options` before a model is built, so an option that is out
of range (`bins=100000000`, `time_constant=1e300`) is one clear error everywhere, never a 19 GB allocation.
"""

from __future__ import annotations

import difflib
import math
import typing

from vh.core.errors import InputError
from vh.core.models.base import ModelOption

OptionValue = typing.Union[float, int, bool, str]


def nearest(word: str, choices) -> str:
    """` (did you mean 'x'?)` for the closest of `choices`, or '' when none is close."""
    choices = list(choices)
    head = word.split("_")[0]
    if head != word and head in choices:  # `lr_rate` means `lr` more often than the closest spelling
        return f" (did you mean {head!r}?)"
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_option(spec: ModelOption, value: OptionValue, model: str) -> OptionValue:
    """`value` as the option's kind, or an InputError naming the option, the model and the allowed range."""
    where = f"option {spec.name!r} of model {model!r}"
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise InputError(f"{where} is a bool (flag), got {value!r}")
        return value
    if spec.kind == "choice":
        if not isinstance(value, str) or (spec.choices and value not in spec.choices):
            raise InputError(f"{where} must be one of {', '.join(spec.choices)}; got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where} is a number, got {value!r}")
    if spec.kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise InputError(f"{where} is an integer, got {value!r}")
            value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise InputError(f"{where} must be finite, got {value!r}")
    if spec.minimum is not None and value < spec.minimum:
        raise InputError(f"{where} is {value} but must be >= {_num(spec.minimum)}")
    if spec.maximum is not None and value > spec.maximum:
        raise InputError(f"{where} is {value} but must be <= {_num(spec.maximum)}")
    return value


def check_options(
    specs: list[ModelOption], options: dict[str, OptionValue], model: str
) -> dict[str, OptionValue]:
    """Every option checked against `specs`; unknown names are errors that suggest the nearest known one."""
    by_name = {o.name: o for o in specs}
    out = {}
    for key, value in sorted(options.items()):
        if key not in by_name:
            known = ", ".join(by_name) or "none"
            raise InputError(
                f"model {model!r} has no option {key!r}{nearest(key, by_name)}; its options: {known}"
            )
        out[key] = check_option(by_name[key], value, model)
    return out


def model_class(name: str) -> type:
    """The class registered model `name` builds, read from its factory's return type, so that listing or checking
    options does not build the model (and its weights); falls back to building it."""
    from vh.core.models import registry

    canonical = registry.resolve_name(name)
    factory = registry._FACTORIES[canonical]
    try:
        cls = typing.get_type_hints(factory).get("return")
    except Exception:  # noqa: BLE001 - an unresolvable annotation: build the model instead
        cls = None
    if isinstance(cls, type) and hasattr(cls, "options"):
        return cls
    return type(registry.create_model(canonical))


def model_options(name: str) -> list[ModelOption]:
    """The options of registered model `name`, with their kinds, defaults and ranges."""
    return list(model_class(name).options())


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
