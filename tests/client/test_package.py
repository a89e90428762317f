"""vh.client's boundaries, checked statically: what it may import, and the Python it runs on.

Its runtime behaviour without torch (a real round trip, the host job) is tested against a real server in
tests/server/test_client.py; the in-host part (client/inhost) in tests/plugins/test_host_python.py.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

from tests.plugins.test_host_python import VERMIN_ARGS, vermin

CLIENT = Path(__file__).resolve().parents[2] / "client"
FORBIDDEN = ("torch", "vh.server", "vh.training")


def client_files() -> list[Path]:
    files = [p for p in CLIENT.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(files) >= 8, files
    return files


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_client_imports_neither_torch_nor_the_server_nor_training():
    offenders = [
        f"{path.relative_to(CLIENT.parent)}: import {name}"
        for path in client_files()
        for name in sorted(imported_modules(path))
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    ]
    assert offenders == []


def test_the_import_check_sees_function_level_imports(tmp_path):
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def f():\n    import torch.nn\n    from vh.server.serve import main\n")
    assert imported_modules(lazy) == {"torch.nn", "vh.server.serve"}


def test_the_client_needs_at_most_python_3_10():
    """3.10 is the floor of the grpcio and protobuf wheels the client needs (the in-host part goes to 3.9)."""
    args = [a if not a.startswith("--target=") else "--target=3.10-" for a in VERMIN_ARGS]
    outside_host = [str(p) for p in client_files() if "inhost" not in p.parts]
    result = subprocess.run(vermin() + args + outside_host, capture_output=True, text=True, timeout=300)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Minimum required versions:" in result.stdout
