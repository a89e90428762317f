"""The Nuke node end to end through the fake `nuke` module, a real vh-server and real EXR files.

The node's in-host code imports no vh, grpcio or protobuf: jobs run out of process in the vh installation's
Python (here this test run's own, through $VH_PYTHON), exactly as in Nuke.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.plugins.conftest import make_plate, read_exr

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugins" / "nuke"


@pytest.fixture
def nuke(monkeypatch, tmp_path):
    """The fake nuke module, loaded as Nuke loads a plugin folder on NUKE_PATH: init.py, then menu.py."""
    from tests.plugins.fakes import nuke as fake

    fake.reset()
    monkeypatch.setitem(sys.modules, "nuke", fake)
    monkeypatch.setenv("VH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("VH_PYTHON", sys.executable)  # the vh installation the jobs run in
    monkeypatch.delenv("VH_SERVER", raising=False)
    monkeypatch.delenv("OCIO", raising=False)
    monkeypatch.syspath_prepend(str(PLUGIN))
    for module in [m for m in sys.modules if m in ("vh_nuke", "vh_outproc") or m.startswith("vh_nuke.")]:
        monkeypatch.delitem(sys.modules, module)
    for script in ("init.py", "menu.py"):
        exec(
            compile((PLUGIN / script).read_text(), str(PLUGIN / script), "exec"),
            {"__file__": str(PLUGIN / script)},
        )
    yield fake
    fake._plugin_paths.clear()


def _aces_root(nuke):
    root = nuke.root()
    root["colorManagement"].setValue("OCIO")
    root["OCIO_config"].setValue("fn-nuke_cg-config-v2.2.0_aces-v1.3_ocio-v2.4")
    root["workingSpaceLUT"].setValue("ACEScg")


def _make_node(nuke, server, plate, matte=None, first=1, last=10, model="stats"):
    nuke.menu("Nodes").items["Filter"].items["VHMAE Harmonize"]  # the menu entry exists
    exec(nuke.toolbar("Nodes").items["vh"].items["VHMAE Harmonize"], {})
    node = [n for n in nuke.root().nodes() if n.Class() == "VHMAE_Harmonize"][-1]
    node.setInput(0, nuke.nodes.Read(file=plate))
    if matte:
        node.setInput(1, nuke.nodes.Read(file=matte))
    node["server"].setValue(server)
    node["refresh"].execute()
    node["model"].setValue(model)
    node["first"].setValue(first)
    node["last"].setValue(last)
    return node


def _press_harmonize(nuke, node):
    node["harmonize"].execute()
    worker = next((t for t in __import__("threading").enumerate() if t.name == f"vh-{node.name()}"), None)
    if worker is not None:
        worker.join(timeout=300)
        assert not worker.is_alive()
    nuke.process_main_thread()


def _results(node, first, last):
    read = node.node("results")
    return [read_exr(read["file"].value() % f) for f in range(first, last + 1)]


def test_node_matches_cli_and_reruns_from_cache(nuke, vh_server, tmp_path):
    from vh.core.cli.main import main as vh_main

    plate, matte = make_plate(tmp_path / "in", frames=10)
    _aces_root(nuke)
    node = _make_node(nuke, vh_server, plate, matte)
    assert "stats" in node["model"].values() and "cut" in node["model"].values()
    assert any(k.startswith("opt_") for k in node.knobs()), "model options become knobs"

    _press_harmonize(nuke, node)
    assert node["status"].value().startswith("harmonized frames 1-10"), node["status"].value()
    assert node.node("use_results")["which"].value() == 1
    task = nuke._progress_tasks[-1]  # driven by the out-of-process job's progress lines
    assert task.messages == [f"frame {f} ({f}/10)" for f in range(1, 11)]
    assert task.progress == [10 * f for f in range(1, 11)]
    got = _results(node, 1, 10)

    out = tmp_path / "cli" / "out.%04d.exr"
    out.parent.mkdir()
    # the node says what its ACES project says (scene_linear, i.e. ACEScg); the CLI alone would read an EXR
    # without chromaticities as Rec.709, the OpenEXR default, so it is told the same
    assert (
        vh_main(
            [
                "harmonize",
                plate,
                "--matte",
                matte,
                "-o",
                str(out),
                "--model",
                "stats",
                "--colorspace",
                "scene_linear",
            ]
        )
        == 0
    )
    for i, frame in enumerate(got):
        expected = read_exr(str(out) % (i + 1))
        np.testing.assert_array_equal(frame, expected)

    task_count = len(nuke._progress_tasks)
    _press_harmonize(nuke, node)
    assert len(nuke._progress_tasks) == task_count + 1
    assert nuke._progress_tasks[-1].messages[-1].startswith("cached result"), "a rerun must not resend frames"


def test_cancel_leaves_no_complete_looking_cache_entry(nuke, vh_server, tmp_path, monkeypatch):
    plate, matte = make_plate(tmp_path / "in", frames=10, height=270, width=512)
    node = _make_node(nuke, vh_server, plate, matte)
    original = nuke.ProgressTask.setProgress

    def cancel_at_30_percent(self, progress):  # the user presses Cancel in the progress dialog
        original(self, progress)
        if progress >= 30:
            self.cancel()

    monkeypatch.setattr(nuke.ProgressTask, "setProgress", cancel_at_30_percent)
    _press_harmonize(nuke, node)
    assert node["status"].value() == "cancelled: no result kept"
    cache = Path(os.environ["VH_CACHE_DIR"])  # default_cache_root uses it as is
    leftovers = [p for p in cache.rglob("*") if p.is_dir()] if cache.exists() else []
    assert leftovers == [], f"cancel left {leftovers}"
    assert nuke._progress_tasks[-1].progress[-1] < 100, "the job stopped before its last frame"
    assert node.node("use_results")["which"].value() == 0, "the node keeps passing the plate through"


def test_dead_server_puts_a_readable_message_on_the_node(nuke, tmp_path):
    plate, matte = make_plate(tmp_path / "in", frames=2, height=64, width=64)
    exec(nuke.toolbar("Nodes").items["vh"].items["VHMAE Harmonize"], {})
    node = [n for n in nuke.root().nodes() if n.Class() == "VHMAE_Harmonize"][-1]
    node.setInput(0, nuke.nodes.Read(file=plate))
    node["server"].setValue("127.0.0.1:1")  # nothing listens there
    node["first"].setValue(1)
    node["last"].setValue(2)
    node["refresh"].execute()
    assert node["status"].value().startswith("server 127.0.0.1:1:"), node["status"].value()
    _press_harmonize(nuke, node)
    status = node["status"].value()
    assert status.startswith("error:") and "Traceback" not in status and "\n" not in status, status


def test_acescg_round_trip_with_cut_returns_the_plate(nuke, vh_server, tmp_path):
    plate, _ = make_plate(tmp_path / "in", frames=3, height=270, width=480, pixel_type="half")
    _aces_root(nuke)
    node = _make_node(nuke, vh_server, plate, None, first=1, last=3, model="cut")
    _press_harmonize(nuke, node)
    assert node["status"].value().startswith("harmonized"), node["status"].value()
    for i, frame in enumerate(_results(node, 1, 3)):
        original = read_exr(plate % (i + 1))
        np.testing.assert_allclose(frame, original, rtol=1e-3, atol=1e-4)


def test_missing_vh_installation_is_reported_on_the_node(nuke, vh_server, tmp_path, monkeypatch):
    monkeypatch.setenv("VH_PYTHON", str(tmp_path / "no" / "python"))
    exec(nuke.toolbar("Nodes").items["vh"].items["VHMAE Harmonize"], {})
    node = [n for n in nuke.root().nodes() if n.Class() == "VHMAE_Harmonize"][-1]
    status = node["status"].value()
    assert str(tmp_path / "no" / "python") in status and "does not exist" in status
    assert "pip install" in status and "VH_PYTHON" in status and "\n" not in status
    node["refresh"].execute()  # no job can start: the same line, not a traceback
    assert "does not exist" in node["status"].value()


def test_colour_settings_map_to_the_server(nuke, monkeypatch):
    colour = importlib.import_module("vh_nuke.colour")
    root = nuke.root()
    assert colour.ocio_settings(root) == colour.NUKE_DEFAULT
    _aces_root(nuke)
    assert colour.ocio_settings(root) == ("ocio://cg-config-v2.2.0_aces-v1.3_ocio-v2.4", "ACEScg")
    root["OCIO_config"].setValue("custom")
    root["customOCIOConfigPath"].setValue("/studio/config.ocio")
    assert colour.ocio_settings(root) == ("/studio/config.ocio", "ACEScg")
    monkeypatch.setenv("OCIO", "/env/config.ocio")
    assert colour.ocio_settings(root)[0] == "/env/config.ocio"
    monkeypatch.delenv("OCIO")
    root["OCIO_config"].setValue("aces_1.2")
    with pytest.raises(ValueError, match="ships inside Nuke"):
        colour.ocio_settings(root)


def test_apply_as_ocio_file_transform_gives_a_native_node_that_matches_the_baked_result(
    nuke, vh_server, tmp_path
):
    plate, matte = make_plate(tmp_path / "in", frames=4, height=270, width=480)
    node = _make_node(nuke, vh_server, plate, matte, first=1, last=4)
    _press_harmonize(nuke, node)  # baked pixels first, for the comparison
    baked = _results(node, 1, 4)
    node["apply_as_ocio"].setValue(True)
    _press_harmonize(nuke, node)
    status = node["status"].value()
    lut = nuke.toNode(node.name() + "_OCIOFileTransform")
    assert lut is not None and lut.Class() == "OCIOFileTransform", status
    assert status.endswith(f"as {lut.name()} (shot.cube)"), status
    assert Path(lut["file"].value()).is_file() and lut["file"].value().endswith(".cube")
    assert lut.input(0) is node.input(0) and lut.input(1) is node.input(1)
    assert lut["maskChannelMask"].value() == "rgba.alpha"
    assert node.node("use_results")["which"].value() == 0, (
        "the node passes the plate through: the LUT node is it"
    )
    errors = []
    for frame, want in zip(range(1, 5), baked):
        got = lut._render(frame)  # what Nuke shows below the native node
        fg = read_exr(matte % frame)[..., 0] > 0.5
        errors.append(np.abs(got[fg, :3] - want[fg, :3]).mean() / np.abs(want[fg, :3]).mean())
        np.testing.assert_array_equal(
            got[~(read_exr(matte % frame)[..., 0] > 0)],
            read_exr(plate % frame)[~(read_exr(matte % frame)[..., 0] > 0)],
        )  # outside the matte: the plate, untouched
    print(f"OCIOFileTransform vs baked result on the foreground: mean relative error {np.mean(errors):.4f}")
    assert np.mean(errors) <= 0.05
