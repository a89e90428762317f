"""vh.server.pool: loaded models, option checking, private engines for stateful models."""

from __future__ import annotations

import pytest

from vh.core.errors import InputError, UnknownModelError
from vh.server.pool import ModelPool, ModelSpec


@pytest.fixture(scope="module")
def pool():
    return ModelPool([ModelSpec("cut", "cut"), ModelSpec("stats", "stats")], device="cpu", batch=1)


def test_lookup_by_name_alias_and_default(pool):
    with pool.lease("", {}) as (name, _):
        assert name == "cut"
    with pool.lease("reinhard", {}) as (name, _):
        assert name == "stats"
    with (
        pytest.raises(UnknownModelError, match="not loaded on this server; it serves: cut, stats"),
        pool.lease("histogram", {}),
    ):
        pass


def test_stateless_models_share_an_engine_stateful_ones_get_their_own(pool):
    with pool.lease("cut", {}) as (_, a), pool.lease("cut", {}) as (_, b):
        assert a is b is pool.models["cut"].engine
    with pool.lease("stats", {}) as (_, a), pool.lease("stats", {}) as (_, b):
        assert a is not b and pool.models["stats"].engine not in (a, b)
    with pool.lease("stats", {}) as (_, c):
        assert c in (a, b)  # returned engines are reused, not rebuilt


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"nope": 1.0}, "has no option 'nope'; its options: space, time_constant"),
        ({"space": "hsv"}, "must be one of lab, lalphabeta, rgb"),
        ({"time_constant": -1.0}, "must be >= 0"),
        ({"time_constant": "fast"}, "is a number"),
        ({"time_constant": float("nan")}, "must be finite"),
    ],
)
def test_bad_options_are_input_errors(pool, options, message):
    with pytest.raises(InputError, match=message), pool.lease("stats", options):
        pass


def test_options_build_a_variant_once(pool):
    default = next(o.default for o in pool.models["stats"].options if o.name == "time_constant")
    with pool.lease("stats", {"space": "rgb", "time_constant": int(default)}) as (_, a):
        assert a.model.config.space == "rgb"
    with pool.lease("stats", {"space": "rgb"}) as (_, b):
        assert b.model.config.space == "rgb"
    assert (
        len(pool.models["stats"].variants) == 1
    )  # the default time_constant (given as an int): same variant


def test_model_info(pool):
    info = {m.name: m for m in pool.info()}
    assert info["stats"].aliases == ["reinhard"] and info["cut"].window == 1
    assert [o.name for o in info["stats"].options] == [o.name for o in pool.models["stats"].options]
    assert {"space", "time_constant"} <= {o.name for o in info["stats"].options}
