"""Map the script's colour management (Root knobs) to what vh-server needs: an OCIO config and a colourspace.

The node renders its inputs with Write `raw` on, so the pixels sent are in the script's working space; the
server must be told which space that is, in which config, or it would harmonize in the wrong colours.
"""

from __future__ import annotations

import os

#: Nuke's own (non-OCIO) colour management works in linear Rec.709; our default config names it this way.
NUKE_DEFAULT = ("ocio://cg-config-v2.2.0_aces-v1.3_ocio-v2.4", "Linear Rec.709 (sRGB)")

#: Nuke's working-space names in "Nuke" colour management, mapped to the default config's names.
_NUKE_LINEAR_NAMES = {"linear", "scene_linear", "Linear", "default (linear)"}


def ocio_settings(root) -> tuple[str, str]:
    """(ocio_config, colorspace) for the script whose Root node is `root`.

    - colorManagement "Nuke" (legacy): linear Rec.709 in the server's default config.
    - colorManagement "OCIO": $OCIO wins (as in Nuke); else OCIO_config "custom" sends customOCIOConfigPath;
      the built-in "fn-nuke_<name>" configs map to OCIO's own built-ins "ocio://<name>"; the working space is
      workingSpaceLUT. A custom config path must be readable by the server too (a shared path on a farm).
    """
    knob = root.knob("colorManagement")
    management = knob.value() if knob is not None else "Nuke"
    working = _value(root, "workingSpaceLUT") or "scene_linear"
    if management != "OCIO":
        return NUKE_DEFAULT if working in _NUKE_LINEAR_NAMES else (NUKE_DEFAULT[0], working)
    config = os.environ.get("OCIO") or _config_from_knobs(root)
    return config, working


def _config_from_knobs(root) -> str:
    name = _value(root, "OCIO_config") or "nuke-default"
    if name == "custom":
        path = _value(root, "customOCIOConfigPath")
        if not path:
            raise ValueError(
                "the script uses a custom OCIO config but its path is empty (Project Settings > Color)"
            )
        return path
    if name.startswith("fn-nuke_"):
        return "ocio://" + name[len("fn-nuke_") :]
    if name.startswith("ocio://") or os.path.isabs(name):
        return name
    if name == "nuke-default":
        return NUKE_DEFAULT[0]
    raise ValueError(
        f"OCIO config {name!r} ships inside Nuke only; point Project Settings > Color at its .ocio file "
        "(custom) so that vh-server can load the same config"
    )


def _value(root, name: str) -> str:
    knob = root.knob(name)
    return str(knob.value()) if knob is not None and knob.value() is not None else ""
