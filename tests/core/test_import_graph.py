"""The core stands alone: no module under core/ imports vh.training or vh.server, however it is spelled.

Checked statically (the AST of every module, imports inside functions and `TYPE_CHECKING` blocks included), so
a lazy import that only some code path reaches is caught as well as a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core"
FORBIDDEN = ("vh.training", "vh.server")


def _absolute(module: str, node: ast.ImportFrom, package: str) -> str:
    """The absolute module a `from ... import` names; a relative one is resolved against `package`."""
    if not node.level:
        return module
    base = package.split(".")
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([module] if module else []))


def forbidden_imports(root: Path, package: str = "vh.core") -> list[str]:
    """'path:line: module' for every import under `root` (the folder of `package`) of a FORBIDDEN package."""
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = [package, *rel.parts]
        here = ".".join(parts[:-1])  # where its relative imports start: the package that holds the file
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                module = _absolute(node.module or "", node, here)
                # `from vh import training` names the package in the alias
                names = [module] + [f"{module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {name}")
                    break
    return found


def test_core_imports_nothing_from_training_or_server():
    assert CORE.is_dir()
    assert forbidden_imports(CORE) == []


@pytest.mark.parametrize(
    "source",
    [
        "import vh.training.main\n",
        "from vh.server import client\n",
        "from vh import training\n",
        "def later():\n    from vh.training.datasets import davis\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from vh.server.wire import Frame\n",
        "from ...training import loop\n",  # from vh.core.sub.mod: three dots reach vh
        "from ...server.pool import Pool\n",
    ],
)
def test_the_checker_catches_every_spelling(tmp_path, source):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "__init__.py").write_text("")
    (sub / "bad.py").write_text(source)
    (tmp_path / "fine.py").write_text("from . import errors\nfrom .sub import bad\nimport vh.core.engine\n")
    assert [f.split(":")[0] for f in forbidden_imports(tmp_path)] == ["sub/bad.py"]


def test_relative_imports_inside_core_are_not_flagged(tmp_path):
    (tmp_path / "a.py").write_text("from .io import hyoutube\nfrom ..core import engine\n")
    assert forbidden_imports(tmp_path) == []


def test_training_runs_without_the_media_libraries():
    # A training machine needs no OpenImageIO or PyAV: checkpoints, atomic writes and the trainer import
    # without them, and `vh.core.io` resolves its names on first use.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "for name in ('OpenImageIO', 'av'):\n"
        "    sys.modules[name] = None\n"
        "import vh.core.checkpoint, vh.core.io.publish, vh.training.train, vh.training.tasks.vhmae\n"
        "import vh.core.io as io\n"
        "try:\n"
        "    io.read_image\n"
        "except ImportError as exc:\n"
        "    print('lazy:', exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "lazy: import of OpenImageIO halted" in done.stdout  # the name is there, resolved only when used
