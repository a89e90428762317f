"""Build MLT's ``melt`` with its OpenFX host module from the third-party sources (test infrastructure).

The sources are ``../shared/third_party/mlt-src.tar.gz``.

    python -m tests.plugins.ofx.host.melt_build [BUILD_DIR]

MLT is a real, independent OpenFX host (the one behind Shotcut and Kdenlive); the tests render through it to
check the plugin outside our own test host. The build is cached: a second call only checks that ``melt`` is
there. Raises MeltUnavailable (with the reason) when the source archive, cmake or the FFmpeg/GLib/libxml2
development packages are missing, so callers can skip rather than fail. MLT is not part of the project:
nothing of it is copied into the repository, it is unpacked and built under BUILD_DIR (default ``build/melt``,
ignored by git)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
ARCHIVE = REPO.parent / "shared" / "third_party" / "mlt-src.tar.gz"
DEFAULT_BUILD = REPO / "build" / "melt"
# Debian packages the configure step needs (besides cmake, g++ and pkg-config); .ci/run installs them.
DEBIAN_PACKAGES = (
    "libglib2.0-dev libxml2-dev libavformat-dev libavcodec-dev libswscale-dev libavutil-dev "
    "libavfilter-dev libavdevice-dev libswresample-dev"
)
PKG_CONFIG_MODULES = (
    "glib-2.0",
    "libxml-2.0",
    "libavformat",
    "libavcodec",
    "libswscale",
    "libavutil",
    "libavfilter",
    "libswresample",
)
WANTED_MODULES = {"MOD_OPENFX", "MOD_AVFORMAT", "MOD_XML"}


class MeltUnavailable(RuntimeError):
    """melt cannot be built here (no source archive, tools or libraries); the message says why."""


@dataclass(frozen=True)
class Melt:
    """A built melt and the environment it runs with."""

    executable: Path
    source: Path  # the unpacked mlt/ tree (MLT_DATA points into it)
    lib: Path

    def env(self, plugin_path: str | os.PathLike | None = None, base: dict | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env["MLT_REPOSITORY"] = str(self.lib / "mlt")
        env["MLT_DATA"] = str(self.source / "src" / "modules")
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (str(self.lib), env.get("LD_LIBRARY_PATH", "")) if p
        )
        if plugin_path is not None:
            env["OFX_PLUGIN_PATH"] = str(plugin_path)
        return env


def missing_prerequisites() -> list[str]:
    missing = [tool for tool in ("cmake", "pkg-config") if shutil.which(tool) is None]
    if shutil.which("c++") is None and shutil.which("g++") is None and shutil.which("clang++") is None:
        missing.append("a C++ compiler")
    if "pkg-config" not in missing:
        missing += [
            m
            for m in PKG_CONFIG_MODULES
            if subprocess.run(["pkg-config", "--exists", m], check=False).returncode != 0
        ]
    return missing


def _module_options(source: Path) -> list[str]:
    """-DMOD_X=OFF for every module option MLT declares, except the three we need (ON)."""
    text = (source / "CMakeLists.txt").read_text()
    names = sorted(
        {
            line.split("(", 1)[1].split()[0]
            for line in text.splitlines()
            if line.strip().startswith("option(MOD_")
        }
    )
    return [f"-D{name}={'ON' if name in WANTED_MODULES else 'OFF'}" for name in names]


def build_melt(
    build_dir: str | os.PathLike = DEFAULT_BUILD, *, archive: str | os.PathLike = ARCHIVE, jobs: int = 2
) -> Melt:
    """Unpack, configure and build melt (once); returns where it is."""
    build_root = Path(build_dir)
    source = build_root / "mlt"
    build = build_root / "build"
    melt = Melt(build / "out" / "bin" / "melt", source, build / "out" / "lib")
    if melt.executable.is_file() and (melt.lib / "mlt").is_dir():
        return melt
    if not Path(archive).is_file():
        raise MeltUnavailable(f"no MLT source: {archive} is absent (it lives in ../shared/third_party)")
    missing = missing_prerequisites()
    if missing:
        raise MeltUnavailable(
            f"cannot build melt: {', '.join(missing)} not found (install cmake g++ pkg-config "
            f"{DEBIAN_PACKAGES})"
        )
    build_root.mkdir(parents=True, exist_ok=True)
    if not (source / "CMakeLists.txt").is_file():
        with tarfile.open(archive) as tar:
            tar.extractall(build_root, filter="data")
    configure = [
        "cmake",
        "-S",
        str(source),
        "-B",
        str(build),
        "-DCMAKE_BUILD_TYPE=Release",
        "-DGPL=ON",
        "-DGPL3=OFF",
        "-DBUILD_TESTING=OFF",
        "-DBUILD_DOCS=OFF",
        "-DCLANG_FORMAT=OFF",
        "-DBUILD_TESTS_WITH_QT6=OFF",
        "-DUSE_LADSPA=OFF",
        "-DUSE_LV2=OFF",
        "-DUSE_VST2=OFF",
        *_module_options(source),
    ]
    for command in (configure, ["cmake", "--build", str(build), "-j", str(jobs)]):
        result = subprocess.run(command, check=False, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    if not melt.executable.is_file():
        candidates = list(build.rglob("melt"))
        raise RuntimeError(f"the melt build finished but {melt.executable} is missing (found: {candidates})")
    return melt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", nargs="?", default=str(DEFAULT_BUILD))
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        print(build_melt(args.build_dir, jobs=args.jobs).executable)
    except MeltUnavailable as exc:
        print(f"melt_build: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
