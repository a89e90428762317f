"""The node's gizmo file parses with a real .nk parser, and a malformed copy is caught."""

from __future__ import annotations

from pathlib import Path

import pytest

nkparser = pytest.importorskip("nkparser")

from tests.plugins.fakes.nuke import _USER_KNOBS, _unquote, parse_user_knob  # noqa: E402 (after the skip)

GIZMO = Path(__file__).resolve().parents[2] / "plugins" / "nuke" / "VHMAE_Harmonize.gizmo"


def _errors(script):
    # nkparser models `end_group` only inside a `Group {}` block; a gizmo ends with it after `Gizmo {}`.
    return [d for d in script.errors() if "end_group" not in d.message]


def test_gizmo_parses_and_declares_every_knob_it_sets():
    script = nkparser.Script.from_file(str(GIZMO))
    assert _errors(script) == []
    header, *children = list(script.all_nodes())
    assert header.class_name == "Gizmo"
    declared = set()
    for knob in header.knobs:
        if knob.name == "addUserKnob":
            declared.add(parse_user_knob(knob.value.raw).name())  # raises on an unknown type or token
    for knob in header.knobs:
        if knob.name not in ("addUserKnob", "inputs", "help", "tile_color", "onCreate", "knobChanged"):
            assert knob.name in declared, f"value for undeclared knob {knob.name!r}"
    for name in ("server", "model", "first", "last", "strength", "harmonize", "status"):
        assert name in declared
    classes = {c.class_name: c.name for c in children}
    assert classes.keys() >= {"Input", "Read", "Switch", "Output"}
    inputs = sorted(c.name for c in children if c.class_name == "Input")
    assert inputs == ["matte", "plate"]


def test_gizmo_callbacks_are_valid_python():
    script = nkparser.Script.from_file(str(GIZMO))
    header = next(iter(script.all_nodes()))
    sources = [_unquote(k.value.raw) for k in header.knobs if k.name in ("onCreate", "knobChanged")]
    sources += [
        parse_user_knob(k.value.raw).value()
        for k in header.knobs
        if k.name == "addUserKnob" and k.value.raw.strip("{").startswith("22 ")
    ]
    assert len(sources) >= 4
    for source in sources:
        compile(source, "<gizmo callback>", "exec")


def test_malformed_gizmo_is_caught(tmp_path):
    text = GIZMO.read_text()
    broken = tmp_path / "broken.gizmo"
    broken.write_text(text.replace(" Switch {", " Switch ", 1))  # a node without its brace block
    assert _errors(nkparser.Script.from_file(str(broken)))

    unknown_type = text.replace("addUserKnob {7 strength", "addUserKnob {99 strength", 1)
    header = next(iter(nkparser.Script.from_string(unknown_type).all_nodes()))
    with pytest.raises(ValueError, match="type 99"):
        for knob in header.knobs:
            if knob.name == "addUserKnob":
                parse_user_knob(knob.value.raw)
    assert 99 not in _USER_KNOBS
