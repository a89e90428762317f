"""`vh models`: every model, its options with their ranges, and whether it can run here (weights).

    vh models            # all models
    vh models stats      # one model

The same declarations (the `option(...)` fields of each model's config) are what `vh harmonize`, `vh eval` and
the server check options against, so what this lists is exactly what they accept.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="*", help="models to show (default: all)")


def weights_status(name: str, cls: type) -> str:
    """'none needed' for classical methods, else whether weights ship with this installation."""
    from vh.core.checkpoint import shipped_checkpoint

    if not _learned(cls):
        return "none needed"
    path = shipped_checkpoint(name)
    return f"shipped ({path.name})" if path is not None else "not shipped: pass --checkpoint"


def _learned(cls: type) -> bool:
    # the classical methods live in one module and have no trained parameters
    return not cls.__module__.endswith(".classical")


def run(args: argparse.Namespace) -> int:
    from vh.core.models.registry import DEFAULT_MODEL, list_aliases, list_models, resolve_name
    from vh.core.options import describe, model_class

    names = [resolve_name(n) for n in args.name] or list_models()
    aliases: dict[str, list[str]] = {}
    for alias, canonical in list_aliases().items():
        aliases.setdefault(canonical, []).append(alias)
    for name in names:
        cls = model_class(name)
        extra = [f"window {cls.window} frame(s)", f"weights: {weights_status(name, cls)}"]
        if aliases.get(name):
            extra.insert(0, f"aliases: {', '.join(sorted(aliases[name]))}")
        if getattr(cls, "supports_auto_matte", False):
            extra.append("--matte auto")
        print(f"{name}{' (default)' if name == resolve_name(DEFAULT_MODEL) else ''}: {'; '.join(extra)}")
        for o in cls.options():
            print(f"    {describe(o)}")
    return 0
