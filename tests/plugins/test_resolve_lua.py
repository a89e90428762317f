"""The Lua Fusion script (Resolve free) under a real Lua 5.1 with a fake composition
(tests/plugins/fakes/fusion.lua), running the real out-of-process job against a real vh-server on real EXR
files. Skips without `lua5.1`/`luac` (Debian package lua5.1; .ci/run installs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.plugins.conftest import make_plate, read_exr

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "plugins" / "resolve" / "scripts" / "Comp" / "VHMAE Harmonize.lua"
FAKE = Path(__file__).resolve().parent / "fakes" / "fusion.lua"
LUA = shutil.which("lua5.1") or shutil.which("luajit") or shutil.which("lua")
LUAC = shutil.which("luac5.1") or shutil.which("luac")


def lua_string(value) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_lua(body: str, tmp_path: Path, **env: str) -> dict[str, str]:
    """Run the script as a library with the fake; `body` uses `vh`, `fake` and `log`; returns the KEY value
    lines."""
    if LUA is None:
        pytest.skip("no Lua interpreter (apt-get install lua5.1)")
    driver = tmp_path / "driver.lua"
    driver.write_text(f"""
VH_LIBRARY = true
local fake = dofile({lua_string(FAKE)})
local vh = dofile({lua_string(SCRIPT)})
local messages = {{}}
local function log(m) messages[#messages + 1] = m; io.stderr:write(m, "\\n") end
{body}
for i, m in ipairs(messages) do print("LOG" .. i, m) end
""")
    result = subprocess.run(
        [LUA, str(driver)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "VH_PYTHON": sys.executable, **env},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    values = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition("\t")
        values[key] = value
    return values


def comp_setup(plate: str, matte: str | None, answer: str, first: int, last: int) -> str:
    lines = [
        f"local comp = fake.composition({first}, {last}, {answer})",
        f'local plate = fake.add_existing(comp, "Loader", "Plate", {lua_string(plate)})',
        'local merge = fake.add_existing(comp, "Merge", "Merge1")',
        'merge:ConnectInput("Foreground", plate)',
        "comp.selected = { plate }",
    ]
    if matte:
        lines += [
            f'local matte = fake.add_existing(comp, "Loader", "Matte", {lua_string(matte)})',
            "comp.selected[2] = matte",
        ]
    return "\n".join(lines)


def test_the_lua_script_parses_with_luac():
    if LUAC is None:
        pytest.skip("no luac (apt-get install lua5.1)")
    result = subprocess.run([LUAC, "-p", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_lua_script_harmonizes_like_vh_and_wires_a_loader(vh_server, tmp_path):
    from vh.core.cli.main import main as vh_main

    plate, matte = make_plate(tmp_path / "in", frames=4, height=270, width=480, first=1)
    cache = tmp_path / "cache"
    body = comp_setup(
        plate, matte, f'{{ server = {lua_string(vh_server)}, model = "stats", strength = 1.0 }}', 1, 4
    )
    body += f"""
local loader = vh.main(comp, {{ log = log, cache_root = {lua_string(cache)} }})
print("CLIP", loader and loader.values.Clip or "none")
print("NAME", loader and loader.name or "none")
print("FEEDS", merge.inputs.Foreground.source.tool.name)
local savers = 0
for _, t in ipairs(comp.tools) do if t.reg_id == "Saver" then savers = savers + 1 end end
print("SAVERS", savers)
print("LOCKED", comp.locked)
print("UNDO", tostring(comp.undo_open))
"""
    out = run_lua(body, tmp_path)
    assert out["NAME"] == "VHMAE_Harmonized" and out["FEEDS"] == "VHMAE_Harmonized", out
    assert out["SAVERS"] == "0" and out["LOCKED"] == "0" and out["UNDO"] == "false"
    progress = [v for k, v in out.items() if k.startswith("LOG") and v.startswith("frame ")]
    assert progress == [f"frame {f} ({f}/4)" for f in range(1, 5)], out
    result = out["CLIP"]
    assert result.endswith("harmonized.0001.exr") and result.startswith(str(cache))

    ref = tmp_path / "cli" / "out.%04d.exr"
    ref.parent.mkdir()
    assert (
        vh_main(
            [
                "harmonize",
                plate,
                "--matte",
                matte,
                "-o",
                str(ref),
                "--model",
                "stats",
                "--colorspace",
                "Linear Rec.709 (sRGB)",
                "--ocio",
                "ocio://studio-config-v2.2.0_aces-v1.3_ocio-v2.4",
            ]
        )
        == 0
    )
    for frame in range(1, 5):
        got = read_exr(result.replace("0001", f"{frame:04d}"))
        np.testing.assert_array_equal(got, read_exr(str(ref) % frame))


def test_lua_script_cancel_file_stops_the_job_and_keeps_nothing(vh_server, tmp_path):
    plate, matte = make_plate(tmp_path / "in", frames=12, height=270, width=512, first=1)
    cache = tmp_path / "cache"
    body = comp_setup(plate, matte, f'{{ server = {lua_string(vh_server)}, model = "stats" }}', 1, 12)
    body += f"""
local cancel_path
local function cancelling_log(m)
  log(m)
  cancel_path = cancel_path or m:match("^to cancel, create (.*)$")
  if cancel_path and m:match("^frame ") then io.open(cancel_path, "w"):close() end  -- the user cancels
end
local loader = vh.main(comp, {{ log = cancelling_log, cache_root = {lua_string(cache)} }})
print("LOADER", loader and "yes" or "no")
"""
    out = run_lua(body, tmp_path)
    assert out["LOADER"] == "no"
    logs = [v for k, v in sorted(out.items()) if k.startswith("LOG")]
    assert "cancelled: no result kept" in logs, logs
    leftovers = [p for p in cache.rglob("*")] if cache.exists() else []
    assert leftovers == [], leftovers


def test_lua_script_with_a_dead_server_logs_one_line(tmp_path):
    plate, _ = make_plate(tmp_path / "in", frames=2, height=64, width=64, first=1)
    body = comp_setup(plate, None, "nil", 1, 2)
    body += f"""
local loader = vh.main(comp, {{ log = log, ask = false, server = "127.0.0.1:1",
                                cache_root = {lua_string(tmp_path / "c")} }})
print("LOADER", loader and "yes" or "no")
"""
    out = run_lua(body, tmp_path)
    assert out["LOADER"] == "no"
    last = [v for k, v in out.items() if k.startswith("LOG")][-1]
    assert last.startswith("error: ") and "127.0.0.1:1" in last and "Traceback" not in last, last


def test_lua_script_without_a_vh_installation_says_how_to_configure_one(tmp_path):
    plate, _ = make_plate(tmp_path / "in", frames=1, height=32, width=32, first=1)
    body = comp_setup(plate, None, "nil", 1, 1)
    body += 'print("LOADER", vh.main(comp, { log = log, ask = false }) and "yes" or "no")'
    out = run_lua(body, tmp_path, VH_PYTHON=str(tmp_path / "missing" / "python"))
    assert out["LOADER"] == "no"
    last = [v for k, v in out.items() if k.startswith("LOG")][-1]
    assert last == f"error: the configured vh Python {tmp_path / 'missing' / 'python'} does not exist", last
