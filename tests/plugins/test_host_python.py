"""The code that runs inside Nuke and Resolve: Python 3.9-3.12 (Nuke 14-17, Resolve 18-21), standard library
only.

No 3.9 interpreter is installable here, so the minimum version is checked statically with vermin (annotations
evaluated, as Python 3.9 evaluates those of modules without `from __future__ import annotations`). The imports
are checked against the standard library of the running Python: grpcio, protobuf, numpy and vh itself run out
of process, in the vh installation's Python (client/inhost/vh_outproc.py starts it)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_HOST = [REPO / "client" / "inhost", REPO / "plugins" / "nuke", REPO / "plugins" / "resolve"]
# Modules the host provides, and the plugins' own.
HOST_MODULES = {"nuke", "DaVinciResolveScript", "vh_nuke", "vh_resolve", "vh_outproc", "install"}
VERMIN_ARGS = ["--target=3.9-", "--violations", "--eval-annotations", "--no-tips", "--no-parse-comments"]


def vermin() -> list[str]:
    exe = shutil.which("vermin", path=str(Path(sys.executable).parent)) or shutil.which("vermin")
    if exe is None:
        pytest.skip("vermin is not installed (it is in the test extra: pip install -e '.[test]')")
    return [exe]


def in_host_files() -> list[Path]:
    files = [p for folder in IN_HOST for p in folder.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(files) >= 14, files
    return files


def test_in_host_code_needs_at_most_python_3_9():
    result = subprocess.run(
        vermin() + VERMIN_ARGS + [str(p) for p in IN_HOST], capture_output=True, text=True, timeout=300
    )
    print(result.stdout)  # the CI line: "Minimum required versions: 3.9" (or lower)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Minimum required versions:" in result.stdout


def test_the_version_check_catches_newer_syntax(tmp_path):
    newer = tmp_path / "newer.py"
    newer.write_text("def f(x: int | None) -> None:\n    match x:\n        case 1:\n            pass\n")
    result = subprocess.run(
        vermin() + VERMIN_ARGS + [str(newer)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "3.10" in result.stdout, result.stdout


def test_in_host_code_imports_only_the_standard_library():
    offenders = []
    for path in in_host_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in HOST_MODULES:
                    offenders.append(f"{path.relative_to(REPO)}: import {name}")
    assert offenders == []
