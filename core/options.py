"""Model options: declared once, as fields of a model's config, and checked by one function everywhere.

A model's config dataclass declares the fields a user may set with `option(...)`, which records the help text
and the allowed range or choices in the field's metadata:

    @dataclass
    class HistogramConfig:
        bins: int = option(64, help="histogram bins per channel", min=2, max=4096)

Everything else is derived from that declaration: `Harmonizer.options()` (what `vh models`, the server's
GetInfo and the plugins' controls list), `check_options` (what `vh harmonize`, `vh eval` and the server check
before a model is built, so `bins=100000000` is one clear error everywhere, never a 19 GB allocation) and
`build_config` (the one way a registered model turns keyword overrides into its config). No torch here: the
client side and `vh --help` import this module too.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from dataclasses import dataclass

from vh.core.errors import InputError

OptionValue = float | int | bool | str

#: the field-metadata key under which `option` records an option's declaration
_OPTION = "vh.option"


@dataclass(frozen=True)
class ModelOption:
    """A user-facing option of a model, as `vh models`, GetInfo and the plugin controls list it."""

    name: str
    kind: str  # "float" | "int" | "bool" | "choice"; "text" or "any" for config fields that are not options
    default: float | int | bool | str
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


def option(
    default: OptionValue,
    *,
    help: str,
    min: float | None = None,
    max: float | None = None,
    choices: typing.Sequence[str] = (),
) -> typing.Any:
    """A config field that users may set (`--option NAME=VALUE`, the server's options, a plugin control)."""
    kind = _kind(default)
    if kind == "text" and not choices:
        raise TypeError(f"a text option needs its choices (default {default!r})")
    if choices and default not in choices:
        raise TypeError(f"default {default!r} is not one of the choices {tuple(choices)}")
    meta = {"help": help, "minimum": min, "maximum": max, "choices": tuple(choices)}
    return dataclasses.field(default=default, metadata={_OPTION: meta})


def options_of(config: typing.Any) -> list[ModelOption]:
    """The declared options of a config dataclass (the class: its defaults; an instance: its values)."""
    return [_spec(f, getattr(config, f.name)) for f in dataclasses.fields(config) if _OPTION in f.metadata]


def build_config(cls: type, model: str, overrides: dict[str, OptionValue], defaults: dict | None = None):
    """`cls(**defaults, **overrides)`, every override checked as `check_options` checks options: an unknown
    field, a wrongly typed value or one outside its declared range is an InputError naming model and field.

    Every field may be overridden (checkpoints restore architecture fields this way); only `option` fields
    carry ranges, and only they are offered to users."""
    fields = dataclasses.fields(cls)
    specs = [_spec(f, f.default) for f in fields if f.default is not dataclasses.MISSING]
    return cls(**{**(defaults or {}), **check_options(specs, overrides, model)})


def check_option(spec: ModelOption, value: OptionValue, where: str) -> OptionValue:
    """`value` as the option's kind, or an InputError naming `where` (the option and its owner) and the
    allowed range."""
    if spec.kind == "any":
        return value
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise InputError(f"{where} is a bool (flag), got {value!r}")
        return value
    if spec.kind == "choice":
        if not isinstance(value, str) or value not in spec.choices:
            raise InputError(f"{where} must be one of {', '.join(spec.choices)}; got {value!r}")
        return value
    if spec.kind == "text":
        if not isinstance(value, str):
            raise InputError(f"{where} is text, got {value!r}")
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
            if not by_name:
                raise InputError(f"model {model!r} has no options; got {key!r}")
            known = ", ".join(by_name)
            raise InputError(
                f"model {model!r} has no option {key!r}{nearest(key, by_name)}; its options: {known}"
            )
        out[key] = check_option(by_name[key], value, f"option {key!r} of model {model!r}")
    return out


#: the kind of a field declared `X | None = None`, for a value that is not None
_OPTIONAL_KINDS = {"int | None": "int", "float | None": "float", "str | None": "text", "bool | None": "bool"}


def check_fields(cls: type, values: dict[str, typing.Any], section: str) -> dict[str, typing.Any]:
    """A section of a run config (`train:`, `data:`, ...) checked against its dataclass as model options are:
    an unknown key suggests the nearest known one; a value of the wrong type, or outside the range an
    `option` field declares, is one InputError naming `section.key`. Returns the values as their kinds."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, value in sorted(values.items()):
        if key not in fields:
            raise InputError(
                f"unknown config key '{section}.{key}'{nearest(key, fields)}; {section} keys: "
                f"{', '.join(sorted(fields))}"
            )
        f = fields[key]
        spec = _spec(f, None if f.default is dataclasses.MISSING else f.default)  # a default_factory: any
        if spec.kind == "any" and value is not None and f.type in _OPTIONAL_KINDS:
            spec = dataclasses.replace(spec, kind=_OPTIONAL_KINDS[f.type])
        out[key] = check_option(spec, value, f"config key '{section}.{key}'")
    return out


def parse_options(pairs: list[str]) -> dict[str, OptionValue]:
    """`--option` values, `["a=1", "b=true", "c=lab"]` -> {"a": 1, "b": True, "c": "lab"}: typed as written,
    so that `check_options` (which never parses text) sees what the user meant. A name given twice is an
    error, not a silent last-one-wins."""
    out: dict[str, OptionValue] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name:
            raise InputError(f"--option {pair!r} is not NAME=VALUE")
        if name in out:
            raise InputError(f"--option {name} is given twice")
        out[name] = _typed(text)
    return out


def describe(o: ModelOption) -> str:
    """`--option bins=<int 2..4096> (default 64)  help`, as `vh models` and `vh remote info` list it."""
    if o.kind == "choice":
        allowed = f"choice: {', '.join(o.choices)}"
    elif o.kind == "bool":
        allowed = "bool: true, false"
    else:
        lo = "" if o.minimum is None else _num(o.minimum)
        hi = "" if o.maximum is None else _num(o.maximum)
        allowed = f"{o.kind} {lo}..{hi}" if (lo or hi) else o.kind
    return f"--option {o.name}=<{allowed}> (default {o.default})  {o.help}"


def nearest(word: str, choices) -> str:
    """` (did you mean 'x'?)` for the closest of `choices`, or '' when none is close."""
    choices = list(choices)
    head = word.split("_")[0]
    if head != word and head in choices:  # `lr_rate` means `lr` more often than the closest spelling
        return f" (did you mean {head!r}?)"
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def model_class(name: str) -> type:
    """The class registered model `name` builds, read from its factory's return type, so that listing or
    checking options does not build the model (and its weights); falls back to building it."""
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


def _kind(value: typing.Any) -> str:
    # bool before int: True is an int too
    for cls, kind in ((bool, "bool"), (int, "int"), (float, "float"), (str, "text")):
        if isinstance(value, cls):
            return kind
    return "any"


def _spec(f: dataclasses.Field, default: typing.Any) -> ModelOption:
    meta = f.metadata.get(_OPTION, {})
    kind = "choice" if meta.get("choices") else _kind(default)
    return ModelOption(name=f.name, kind=kind, default=default, **meta)


def _typed(text: str) -> OptionValue:
    low = text.lower()
    if low in ("true", "false", "yes", "no", "on", "off"):
        return low in ("true", "yes", "on")
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
