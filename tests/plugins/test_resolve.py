"""The Resolve scripts end to end through the fake Resolve/Fusion objects, a real vh-server and real EXR
files.

The scripts' in-host code imports no vh, grpcio or protobuf: jobs run out of process in the vh installation's
Python (here this test run's own, through $VH_PYTHON), as in Resolve.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.plugins.conftest import make_plate, read_exr
from tests.plugins.fakes import resolve as fake

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugins" / "resolve"
IN_HOST = REPO / "client" / "inhost"


@pytest.fixture(autouse=True)
def _plugin(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(PLUGIN))
    monkeypatch.syspath_prepend(str(IN_HOST))
    monkeypatch.setenv("VH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("VH_PYTHON", sys.executable)  # the vh installation the jobs run in
    for name in ("VH_OCIO", "VH_COLORSPACE", "VH_SERVER", "VH_MODEL"):
        monkeypatch.delenv(name, raising=False)
    fake.calls.clear()


def _methods():
    return [(obj, method) for obj, method, _ in fake.calls]


def _cli(args):
    from vh.core.cli.main import main

    assert main(args) == 0


def test_fusion_script_renders_harmonizes_and_wires_a_loader(vh_server, tmp_path):
    from vh_resolve import fusion_comp

    plate, matte = make_plate(tmp_path / "in", frames=4, height=270, width=480, first=1)
    comp = fake.Composition(1, 4, ask_user={"server": vh_server, "model": "stats", "strength": 1.0})
    plate_tool = comp.add_existing("Loader", "Plate", Clip=plate % 1)
    matte_tool = comp.add_existing("Loader", "Matte", Clip=matte % 1)
    merge = comp.add_existing("Merge", "Merge1")
    merge.ConnectInput("Foreground", plate_tool)
    comp.selected = [plate_tool, matte_tool]
    fake.calls.clear()

    loader = fusion_comp.main(comp, project=None, ask=True)

    assert loader is not None and loader.reg_id == "Loader" and loader.name == "VHMAE_Harmonized"
    assert merge.inputs["Foreground"].source.tool is loader, "the result takes over the plate's connections"
    assert ("Composition", "AskUser") in _methods() and ("Composition", "Render") in _methods()
    assert not [t for t in comp.tools if t.reg_id == "Saver"], "temporary Savers are removed"
    assert comp.locked == 0 and not comp.undo_open
    result = loader.values["Clip"]
    assert os.path.exists(result)

    out = tmp_path / "cli" / "out.%04d.exr"
    out.parent.mkdir()
    _cli(
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
            "Linear Rec.709 (sRGB)",
            "--ocio",
            "ocio://studio-config-v2.2.0_aces-v1.3_ocio-v2.4",
        ]
    )
    for frame in range(1, 5):
        got = read_exr(fake._sequence_path(result, frame))
        np.testing.assert_array_equal(got, read_exr(str(out) % frame))


def test_fusion_script_without_a_plate_says_what_to_select(tmp_path):
    from vh_resolve import fusion_comp

    comp = fake.Composition(1, 4)
    comp.selected = [comp.add_existing("Merge", "Merge1")]
    messages = []
    assert fusion_comp.main(comp, ask=False, server="127.0.0.1:1", log=messages.append) is None
    assert messages == [
        "[vh] error: select the plate (a MediaIn or Loader) and, optionally, a matte tool, then run again"
    ]


def _timeline_fixture(tmp_path, settings, alpha=True):
    plate, _ = make_plate(tmp_path / "media", frames=5, height=270, width=480, first=101)
    if not alpha:
        from tests.plugins.conftest import write_exr

        for f in range(101, 106):
            write_exr(plate % f, read_exr(plate % f)[..., :3])
    media = fake.MediaPoolItem(plate, 101, 105, "shot010_comp")
    item = fake.TimelineItem(media, start=86400 + 10, track=1)
    timeline = fake.Timeline(item)
    project = fake.Project(timeline, settings)
    return fake.Resolve(project), project, timeline, item, plate


def test_timeline_script_places_the_result_on_a_new_track(vh_server, tmp_path):
    from vh_resolve import timeline as script

    resolve, project, timeline, item, plate = _timeline_fixture(tmp_path, {"colorScienceMode": "acescct"})
    placed = script.main(resolve, server=vh_server, model="stats")

    assert placed is not None
    assert timeline.GetTrackCount("video") == 2 and placed.track == 2 and placed.start == item.start
    (_, _, (imports,)) = next(c for c in fake.calls if c[1] == "ImportMedia")
    assert imports[0]["StartIndex"] == 1 and imports[0]["EndIndex"] == 5
    assert project.render_settings["ExportAlpha"] is True
    assert project.format_codec == ("exr", "RGBFloat") and not project.jobs, "render job cleaned up"

    out = tmp_path / "cli" / "out.%04d.exr"
    out.parent.mkdir()
    _cli(
        [
            "harmonize",
            plate,
            "-o",
            str(out),
            "--model",
            "stats",
            "--colorspace",
            "ACEScct",
            "--ocio",
            "ocio://studio-config-v2.2.0_aces-v1.3_ocio-v2.4",
        ]
    )
    pattern = imports[0]["FilePath"]
    for i in range(5):
        np.testing.assert_array_equal(read_exr(pattern % (i + 1)), read_exr(str(out) % (101 + i)))


def test_timeline_script_refuses_a_clip_without_matte(vh_server, tmp_path):
    from vh_resolve import timeline as script

    resolve, *_ = _timeline_fixture(tmp_path, {"colorScienceMode": "davinciYRGB"}, alpha=False)
    messages = []
    assert script.main(resolve, server=vh_server, log=messages.append) is None
    assert messages[-1].startswith("[vh] error: the clip's alpha is opaque")
    assert ("MediaPool", "ImportMedia") not in _methods()


def test_colour_settings_map_to_ocio():
    from vh_resolve import colour

    project = fake.Project(
        fake.Timeline(None),
        {"colorScienceMode": "davinciYRGBColorManagedv2", "colorSpaceTimeline": "DaVinci WG/Intermediate"},
    )
    assert colour.ocio_settings(project) == (colour.STUDIO_CONFIG, "DaVinci Intermediate WideGamut")
    project.settings["colorSpaceTimeline"] = "Some Camera Log"
    with pytest.raises(ValueError, match="VH_COLORSPACE"):
        colour.ocio_settings(project)


def test_installer_copies_scripts_per_os(tmp_path):
    sys.path.insert(0, str(PLUGIN))
    try:
        import install
    finally:
        sys.path.remove(str(PLUGIN))
    assert install.scripts_dir("darwin", {"HOME": "/Users/a"}).endswith(
        "Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts"
    )
    assert (
        install.scripts_dir("win32", {"HOME": "C:/Users/a", "APPDATA": "C:/Users/a/AppData/Roaming"})
        .replace("\\", "/")
        .endswith("Blackmagic Design/DaVinci Resolve/Support/Fusion/Scripts")
    )
    assert (
        install.scripts_dir("linux", {"HOME": "/home/a"})
        == "/home/a/.local/share/DaVinciResolve/Fusion/Scripts"
    )
    assert (
        install.main(
            [
                "--scripts-dir",
                str(tmp_path / "Scripts"),
                "--site",
                str(tmp_path / "site"),
                "--no-pip",
                "--vh-python",
                sys.executable,
                "--config",
                str(tmp_path / "host.json"),
            ]
        )
        == 0
    )
    assert (tmp_path / "Scripts" / "Comp" / "VHMAE Harmonize.py").exists()
    assert (tmp_path / "Scripts" / "Comp" / "VHMAE Harmonize.lua").exists()  # Resolve free runs Lua only
    assert (tmp_path / "Scripts" / "Utility" / "VHMAE Harmonize Timeline.py").exists()
    assert (tmp_path / "site" / "vh_resolve" / "fusion_comp.py").exists()
    assert (tmp_path / "site" / "vh_outproc.py").exists()
    import json

    assert json.loads((tmp_path / "host.json").read_text()) == {"python": sys.executable}


def test_fusion_script_progress_lines_and_cancel_keep_nothing(vh_server, tmp_path):
    from vh_resolve import fusion_comp

    plate, matte = make_plate(tmp_path / "in", frames=12, height=270, width=512, first=1)
    comp = fake.Composition(1, 12)
    plate_tool = comp.add_existing("Loader", "Plate", Clip=plate % 1)
    comp.selected = [plate_tool, comp.add_existing("Loader", "Matte", Clip=matte % 1)]
    messages = []

    def cancel_after_first_frame():  # the user cancels once the first frame is back
        return any(m.startswith("[vh] frame ") for m in messages)

    assert (
        fusion_comp.main(
            comp,
            ask=False,
            server=vh_server,
            model="stats",
            log=messages.append,
            cancelled=cancel_after_first_frame,
        )
        is None
    )
    assert "[vh] frame 1 (1/12)" in messages, "progress lines of the out-of-process job reach the console"
    assert messages[-1] == "[vh] cancelled: no result kept", messages
    assert not any(m.startswith("[vh] frame 12 ") for m in messages)
    cache = Path(os.environ["VH_CACHE_DIR"])
    assert (list(cache.rglob("*")) if cache.exists() else []) == [], "no partial output"
    assert [t.reg_id for t in comp.tools] == ["Loader", "Loader"], "no Loader added, temporary Savers removed"


def test_timeline_script_with_a_dead_server_logs_one_line(tmp_path):
    from vh_resolve import timeline as script

    resolve, *_ = _timeline_fixture(tmp_path, {"colorScienceMode": "davinciYRGB"})
    messages = []
    assert script.main(resolve, server="127.0.0.1:1", log=messages.append) is None
    assert messages[-1].startswith("[vh] error: ") and "127.0.0.1:1" in messages[-1], messages
    assert "\n" not in messages[-1] and "Traceback" not in messages[-1]
