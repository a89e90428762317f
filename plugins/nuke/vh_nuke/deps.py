"""Check, at load, that Nuke's Python can import what the client needs, and say how to install it if not."""

from __future__ import annotations

import importlib
import os
import sys

REQUIRED = ("numpy", "grpc", "google.protobuf", "vh.server.client")

#: Where the install command puts the packages; init.py adds it to sys.path.
SITE_DIR = os.environ.get("VH_NUKE_SITE", os.path.join(os.path.expanduser("~"), ".nuke", "vh-site"))


def missing() -> list[str]:
    """Modules from REQUIRED that do not import."""
    absent = []
    for name in REQUIRED:
        try:
            importlib.import_module(name)
        except Exception:  # a broken install raises more than ImportError
            absent.append(name)
    return absent


def install_command() -> str:
    """One line to run in a terminal: installs the client and its three dependencies into SITE_DIR."""
    python = "python.exe" if sys.platform == "win32" else "python3"
    nuke_python = f'"<Nuke install folder>/{python}"'
    return (
        f'{nuke_python} -m pip install --target "{SITE_DIR}" grpcio protobuf numpy '
        f'&& {nuke_python} -m pip install --no-deps --target "{SITE_DIR}" "<path to the vh checkout or wheel>"'
    )


def problem() -> str | None:
    """A readable message when something is missing, else None."""
    absent = missing()
    if not absent:
        return None
    return (
        f"VHMAE Harmonize cannot reach vh-server: Nuke's Python lacks {', '.join(absent)}. "
        f"Install them with: {install_command()}"
    )
