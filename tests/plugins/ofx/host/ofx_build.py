"""Configure and build the OFX bundle with CMake; used by the tests and the OFX benchmark.

    python -m tests.plugins.ofx.host.ofx_build [--sanitize] [BUILD_DIR]

Incremental: a second call only recompiles what changed. Raises BuildUnavailable (with the reason) when cmake
or the gRPC/protobuf C++ development packages are missing, so callers can skip rather than fail."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
SOURCE = REPO / "plugins" / "ofx_bridge"
PROTO = REPO / "client" / "v1" / "harmonize.proto"
DEFAULT_BUILD = REPO / "build" / "ofx"
BUNDLE = "VHMAEHarmonize.ofx.bundle"


class BuildUnavailable(RuntimeError):
    """This machine cannot build the plugin (missing tools or libraries); the message says what to install."""


def missing_tools() -> list[str]:
    """Build prerequisites that are absent (empty when the build can be attempted)."""
    missing = [tool for tool in ("cmake", "protoc", "grpc_cpp_plugin") if shutil.which(tool) is None]
    if shutil.which("c++") is None and shutil.which("g++") is None and shutil.which("clang++") is None:
        missing.append("a C++17 compiler")
    return missing


def build_bundle(
    build_dir: str | os.PathLike = DEFAULT_BUILD, *, sanitize: bool = False, jobs: int = 2
) -> Path:
    """Build (or bring up to date) the plugin; returns the .ofx.bundle folder."""
    missing = missing_tools()
    if missing:
        raise BuildUnavailable(
            f"cannot build the OFX plugin: {', '.join(missing)} not found (install cmake g++ pkg-config "
            "libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc)"
        )
    build = Path(build_dir)
    build.mkdir(parents=True, exist_ok=True)
    configure = [
        "cmake",
        "-S",
        str(SOURCE),
        "-B",
        str(build),
        "-DCMAKE_BUILD_TYPE=" + ("Debug" if sanitize else "Release"),
        f"-DVH_OFX_SANITIZE={'ON' if sanitize else 'OFF'}",
        # given, not left to the cache: a build folder configured before the proto moved keeps the old path
        f"-DVH_PROTO={PROTO}",
    ]
    for command in (configure, ["cmake", "--build", str(build), "-j", str(jobs)]):
        result = subprocess.run(command, check=False, capture_output=True, text=True)
        if result.returncode != 0:
            log = (result.stdout + result.stderr)[-3000:]
            if command is configure and ("grpc" in log.lower() or "protobuf" in log.lower()):
                raise BuildUnavailable(
                    f"cannot configure the OFX plugin (gRPC/protobuf C++ packages?):\n{log}"
                )
            raise RuntimeError(f"{' '.join(command)} failed:\n{log}")
    bundle = build / BUNDLE
    if not (bundle / "Contents" / "Info.plist").is_file():
        raise RuntimeError(f"the build finished but {bundle} has no Contents/Info.plist")
    return bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", nargs="?", default=str(DEFAULT_BUILD))
    parser.add_argument("--sanitize", action="store_true", help="AddressSanitizer build (for leak checks)")
    args = parser.parse_args(argv)
    try:
        print(build_bundle(args.build_dir, sanitize=args.sanitize))
    except BuildUnavailable as exc:
        print(f"ofx_build: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
