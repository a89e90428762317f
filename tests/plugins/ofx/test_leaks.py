"""Memory safety of the plugin: the whole action sequence under AddressSanitizer + LeakSanitizer.

The plugin is built with -fsanitize=address and driven by asan_driver.py in a Python process that preloads the
sanitizer runtime (and libstdc++, which ASan must see at start-up to intercept C++ exceptions). LeakSanitizer
also reports the interpreter's own never-freed allocations at exit; those are not ours, so the test fails on
any sanitizer error and on any leaked block whose allocation stack passes through the plugin's code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from tests.plugins.ofx.harness import REPO, ofx_build

DRIVER = "tests.plugins.ofx.asan_driver"
PLUGIN_FRAMES = re.compile(r"VHMAEHarmonize|plugins/ofx_bridge|vh::ofx")


def _runtime(name: str) -> str | None:
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        return None
    path = subprocess.run(
        [compiler, f"-print-file-name={name}"], check=False, capture_output=True, text=True
    ).stdout.strip()
    return path if os.path.isabs(path) and os.path.exists(path) else None


@pytest.fixture(scope="module")
def server_address():
    """vh-server as its own process (not sanitized): the sanitizer's report is then only about the host
    side."""
    process = subprocess.Popen(
        [sys.executable, "-m", "vh.server.serve", "--port", "0", "--model", "stats"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        for line in process.stdout:
            if match := re.search(r"ready on port (\d+)", line):
                yield f"127.0.0.1:{match.group(1)}"
                break
            if time.monotonic() > deadline:
                break
        else:
            pytest.fail("vh-server did not start")
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
def test_no_sanitizer_errors_and_no_leaks_in_the_plugin(server_address, tmp_path):
    asan, stdcxx = _runtime("libasan.so"), _runtime("libstdc++.so")
    if asan is None or stdcxx is None:
        pytest.skip("the compiler has no AddressSanitizer runtime (libasan)")
    try:
        bundle = ofx_build.build_bundle(REPO / "build" / "ofx-asan", sanitize=True)
    except ofx_build.BuildUnavailable as exc:
        pytest.skip(str(exc))
    env = dict(
        os.environ, LD_PRELOAD=f"{asan} {stdcxx}", ASAN_OPTIONS="detect_leaks=1:malloc_context_size=30"
    )
    run = subprocess.run(
        [sys.executable, "-m", DRIVER, str(bundle), server_address],
        cwd=REPO,
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = run.stdout + run.stderr
    (tmp_path / "asan.txt").write_text(report)  # kept for a human when this fails
    assert "asan driver: all actions completed" in run.stdout, report[-4000:]
    assert "ERROR: AddressSanitizer" not in report, report[-4000:]
    leaks = re.split(r"\n(?=(?:Direct|Indirect) leak)", report)[1:]
    ours = [block for block in leaks if PLUGIN_FRAMES.search(block)]
    summary = re.search(r"SUMMARY: AddressSanitizer: .*", report)
    print(
        f"LeakSanitizer: {len(leaks)} leaked blocks at exit, {len(ours)} allocated through the plugin; "
        f"{summary.group(0) if summary else 'no leaks at all'}"
    )
    assert ours == [], "\n\n".join(ours)[:4000]
