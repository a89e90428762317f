"""The host fakes are faithful: every API name the plugins call exists in the hosts' published stubs
(`types-nuke`, `fusionscript-stubs`), with the same parameter names, and the fakes cover every call the
plugins make."""

from __future__ import annotations

import ast
import inspect
import sysconfig
from pathlib import Path

import pytest

from tests.plugins.fakes import nuke as fake_nuke

REPO = Path(__file__).resolve().parents[2]
SITE = Path(sysconfig.get_paths()["purelib"])

#: Parts of the fake that stand in for the host's event loop and user, not API (documented in the fake).
FAKE_ONLY = {
    "process_main_thread",
    "reset",
    "parse_user_knob",
    "cancel",
    "Input",
    "Read",
    "Switch",
    "Write",
    "pluginPath",
    "findItem",
    "setRange",
    "setTooltip",
    "tooltip",
    "node",
    "enumName",
    "numValues",
}


def _stub_index(folder: Path) -> dict[str, dict[str, list[list[str]]]]:
    """{class or "" for module: {name: [parameter-name lists, one per overload]}} from every .pyi in
    folder."""
    index: dict[str, dict[str, list[list[str]]]] = {}
    for pyi in folder.glob("*.pyi"):
        tree = ast.parse(pyi.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                index.setdefault("", {}).setdefault(node.name, []).append(_params(node))
            elif isinstance(node, ast.ClassDef):
                members = index.setdefault(node.name, {})
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        members.setdefault(item.name, []).append(_params(item))
    return index


def _params(fn: ast.FunctionDef) -> list[str]:
    names = [a.arg for a in fn.args.posonlyargs + fn.args.args if a.arg != "self"]
    if fn.args.vararg or fn.args.kwarg:
        names.append("*")  # the stub accepts anything
    return names


def _compatible(ours: list[str], overloads: list[list[str]]) -> bool:
    return any("*" in theirs or ours[: len(theirs)] == theirs[: len(ours)] for theirs in overloads)


@pytest.fixture(scope="module")
def nuke_stubs():
    folder = SITE / "nuke-stubs"
    if not folder.is_dir():
        pytest.skip("types-nuke is not installed (pip install -e '.[test]')")
    return _stub_index(folder)


def _fake_api(module):
    for name, obj in vars(module).items():
        if (
            name.startswith("_")
            or name in FAKE_ONLY
            or getattr(obj, "__module__", module.__name__) != module.__name__
        ):
            continue
        if inspect.isfunction(obj):
            yield "", name, obj
        elif inspect.isclass(obj):
            yield name, None, obj
            for member, fn in vars(obj).items():
                if inspect.isfunction(fn) and not member.startswith("_") and member not in FAKE_ONLY:
                    yield name, member, fn


def test_fake_nuke_matches_types_nuke(nuke_stubs):
    stub_classes = {c for c in nuke_stubs if c}
    checked = 0
    for owner, name, obj in _fake_api(fake_nuke):
        if name is None:
            assert owner in stub_classes, f"nuke.{owner} is not a class in types-nuke"
            continue
        methods = nuke_stubs.get(owner, {}) if owner else nuke_stubs.get("", {})
        if owner and name not in methods:  # inherited in the stubs (e.g. Group.begin, Knob.setValue)
            methods = {m: o for c in nuke_stubs.values() for m, o in c.items() if m == name}
        assert name in methods, f"nuke.{owner + '.' if owner else ''}{name} is not in types-nuke"
        named = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ours = [
            p.name for p in inspect.signature(obj).parameters.values() if p.kind in named and p.name != "self"
        ]
        assert _compatible(ours, methods[name]), f"{owner}.{name}{ours} vs stubs {methods[name]}"
        checked += 1
    assert checked > 40


def test_fake_nuke_covers_every_call_the_plugin_makes():
    used = set()
    for source in (REPO / "plugins" / "nuke").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "nuke"
            ):
                used.add(node.attr)
    missing = sorted(u for u in used if not hasattr(fake_nuke, u))
    assert not missing, f"the plugin calls nuke.{missing} which the fake lacks"
    assert {"executeInMainThread", "ProgressTask", "execute", "createNode", "root"} <= used


@pytest.fixture(scope="module")
def resolve_stubs():
    folder = SITE / "fusionscript-stubs"
    if not folder.is_dir():
        pytest.skip("fusionscript-stubs is not installed (pip install -e '.[test]')")
    return _stub_index(folder)


RESOLVE_CLASSES = (
    "Resolve",
    "ProjectManager",
    "Project",
    "Timeline",
    "TimelineItem",
    "MediaPool",
    "MediaPoolItem",
)


def test_fake_resolve_matches_fusionscript_stubs(resolve_stubs):
    from tests.plugins.fakes import resolve as fake_resolve

    named = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    checked = 0
    for cls_name in RESOLVE_CLASSES:
        cls = getattr(fake_resolve, cls_name)
        stub = resolve_stubs[cls_name]
        for name, fn in vars(cls).items():
            if name.startswith("_") or not inspect.isfunction(fn):
                continue
            assert name in stub, f"{cls_name}.{name} is not in fusionscript-stubs"
            ours = [
                p.name
                for p in inspect.signature(fn).parameters.values()
                if p.kind in named and p.name != "self"
            ]
            assert _compatible(ours, stub[name]), f"{cls_name}.{name}{ours} vs stubs {stub[name]}"
            checked += 1
    assert checked >= 18


def test_resolve_plugin_calls_only_what_the_fake_has():
    """Every method the Resolve scripts call on a host object is defined by the fake (hence checked above)."""
    from tests.plugins.fakes import resolve as fake_resolve

    defined = {n for c in vars(fake_resolve).values() if inspect.isclass(c) for n in vars(c)}
    for source in (REPO / "plugins" / "resolve" / "vh_resolve").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr[:1].isupper()
            ):
                assert node.func.attr in defined, (
                    f"{source.name} calls {node.func.attr}, which the fake lacks"
                )
