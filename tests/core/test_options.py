"""vh.core.options: one declaration per option, and what is derived from it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from vh.core.errors import InputError
from vh.core.models.registry import list_models
from vh.core.options import (
    ModelOption,
    build_config,
    check_fields,
    describe,
    model_class,
    option,
    options_of,
    parse_options,
)


@dataclass
class _Config:
    amount: float = option(0.5, help="how much", min=0.0, max=1.0)
    mode: str = option("fast", help="how", choices=("fast", "exact"))
    steps: int = option(4, help="how often", min=1)
    smooth: bool = option(False, help="whether")
    width: int = 64  # an architecture field: buildable, not offered to users


def test_the_declaration_is_the_option_list():
    assert options_of(_Config) == [
        ModelOption("amount", "float", 0.5, "how much", 0.0, 1.0),
        ModelOption("mode", "choice", "fast", "how", choices=("fast", "exact")),
        ModelOption("steps", "int", 4, "how often", 1, None),
        ModelOption("smooth", "bool", False, "whether"),
    ]
    assert [o.default for o in options_of(_Config(amount=0.25))][0] == 0.25  # an instance lists its values
    assert describe(options_of(_Config)[0]) == "--option amount=<float 0..1> (default 0.5)  how much"


def test_every_registered_option_is_declared_by_its_config():
    for name in list_models():
        cls = model_class(name)
        assert cls.options() == (options_of(cls.config_class) if cls.config_class else []), name


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"amount": 2}, "option 'amount' of model 'm' is 2.0 but must be <= 1"),
        ({"mode": "slow"}, "option 'mode' of model 'm' must be one of fast, exact; got 'slow'"),
        ({"steps": "4"}, "option 'steps' of model 'm' is a number, got '4'"),
        ({"smooth": 1}, "option 'smooth' of model 'm' is a bool (flag), got 1"),
        ({"width": 1.5}, "option 'width' of model 'm' is an integer, got 1.5"),
        ({"stpes": 4}, "model 'm' has no option 'stpes' (did you mean 'steps'?); its options: amount, mode"),
    ],
)
def test_build_config_checks_every_override(overrides, message):
    with pytest.raises(InputError) as err:
        build_config(_Config, "m", overrides)
    assert str(err.value).startswith(message)


def test_build_config_layers_overrides_on_defaults():
    config = build_config(_Config, "m", {"steps": 8.0}, {"width": 32})
    assert (config.steps, config.width, config.amount) == (8, 32, 0.5) and isinstance(config.steps, int)


def test_a_text_option_needs_its_choices():
    with pytest.raises(TypeError, match="needs its choices"):
        option("a", help="free text")
    with pytest.raises(TypeError, match="not one of the choices"):
        option("c", help="x", choices=("a", "b"))


def test_parse_options_types_values_as_written():
    got = parse_options(["a=1", "b=2.5", "c = on", "d=lab", "e=1e300", "f="])
    assert got == {"a": 1, "b": 2.5, "c": True, "d": "lab", "e": 1e300, "f": ""}
    assert isinstance(got["a"], int) and isinstance(got["c"], bool)


@pytest.mark.parametrize(
    "pairs, message",
    [
        (["bins"], "--option 'bins' is not NAME=VALUE"),
        (["=3"], "--option '=3' is not NAME=VALUE"),
        (["bins=8", "bins=16"], "--option bins is given twice"),
    ],
)
def test_parse_options_refuses_what_it_cannot_read(pairs, message):
    with pytest.raises(InputError, match=f"^{message}$"):
        parse_options(pairs)


@dataclass
class _Section:
    epochs: int = option(1, help="passes", min=1)
    limit: int | None = option(None, help="optional, at least 1", min=1)
    root: str | None = None
    names: list = dataclasses.field(default_factory=list)  # any value: checked by its owner


@pytest.mark.parametrize(
    "values, message",
    [
        ({"epochs": 0}, "config key 'train.epochs' is 0 but must be >= 1"),
        ({"epochs": "2"}, "config key 'train.epochs' is a number, got '2'"),
        ({"limit": 0}, "config key 'train.limit' is 0 but must be >= 1"),
        ({"limit": 2.5}, "config key 'train.limit' is an integer, got 2.5"),
        ({"root": 3}, "config key 'train.root' is text, got 3"),
        (
            {"epoch": 2},
            "unknown config key 'train.epoch' (did you mean 'epochs'?); train keys: epochs, limit",
        ),
    ],
)
def test_check_fields_names_the_section_key(values, message):
    with pytest.raises(InputError) as err:
        check_fields(_Section, values, "train")
    assert str(err.value).startswith(message)


def test_check_fields_returns_values_as_their_kinds():
    got = check_fields(_Section, {"epochs": 8.0, "limit": None, "root": None, "names": [1, "a"]}, "train")
    assert got == {"epochs": 8, "limit": None, "root": None, "names": [1, "a"]}
    assert isinstance(got["epochs"], int)
