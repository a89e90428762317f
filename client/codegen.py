"""Regenerate the Python stubs of every client/vN/*.proto: `python -m vh.client.codegen`.

The generated `*_pb2.py`, `*_pb2.pyi` and `*_pb2_grpc.py` are committed so that a plain install needs no
grpcio-tools; never edit them by hand. protoc names imports after the proto's path below its include root, so
the protos are staged in a temporary root as `vh/client/vN/x.proto`: the stubs then say
`from vh.client.v1 import harmonize_pb2`, which is the import path the package really has.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_files() -> list[Path]:
    return sorted(PACKAGE_DIR.glob("v*/*.proto"))


def generate(check: bool = False) -> list[Path]:
    """Run protoc on every proto; write the stubs beside it (or, with check, only report stale ones)."""
    try:
        import grpc_tools
        from grpc_tools import protoc
    except ImportError as exc:  # only developers regenerate; users get the committed stubs
        raise SystemExit("vh.client.codegen needs grpcio-tools: pip install grpcio-tools") from exc

    changed: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="vh-codegen-") as tmp:
        root = Path(tmp) / "include"
        out = Path(tmp) / "out"
        out.mkdir()
        staged = []
        for proto in proto_files():
            target = root / "vh" / "client" / proto.parent.name / proto.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(proto, target)
            staged.append(str(target.relative_to(root)))
        well_known = Path(grpc_tools.__file__).parent / "_proto"  # google/protobuf/*.proto
        argv = [
            "protoc",
            f"-I{root}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            *staged,
        ]
        if protoc.main(argv) != 0:
            raise SystemExit("protoc failed (see its message above)")
        for produced in sorted((out / "vh" / "client").rglob("*")):
            if not produced.is_file() or not produced.name.endswith(GENERATED_SUFFIXES):
                continue
            dest = PACKAGE_DIR / produced.relative_to(out / "vh" / "client")
            new = produced.read_bytes()
            if dest.exists() and dest.read_bytes() == new:
                continue
            changed.append(dest)
            if not check:
                dest.write_bytes(new)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vh.client.codegen", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed stubs are stale; write nothing"
    )
    args = parser.parse_args(argv)
    changed = generate(check=args.check)
    for path in changed:
        print(f"{'stale' if args.check else 'wrote'} {path.relative_to(PACKAGE_DIR.parent)}")
    if args.check and changed:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
