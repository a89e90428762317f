"""One registry of models: factories register under a name, `create_model(name, **overrides)` builds them.

@register_model("vhmae_tiny")
def vhmae_tiny(**overrides) -> VHMAE: ...

model = create_model("vhmae_tiny", depth=2)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from vh.core.errors import UnknownModelError
from vh.core.models.base import Harmonizer

#: The model `vh harmonize` uses when none is named: the one that measures best on the unseen split (see
#: core/weights/MODEL_CARD.md), the shipped VHMAE behind the never-worse guard.
DEFAULT_MODEL = "vhmae"

_FACTORIES: dict[str, Callable[..., Harmonizer]] = {}
_ALIASES: dict[str, str] = {}

# Modules whose import registers their factories. Listed here so that the registry is complete without the
# caller importing each model; a module that fails to import (e.g. a missing optional dependency) is reported,
# not hidden.
_MODEL_MODULES = (
    "vh.core.models.classical",
    "vh.core.models.vhmae",
    "vh.core.models.ensemble",
    "vh.core.models.huang",
)
_loaded = False


def register_model(name: str, *, aliases: tuple[str, ...] = ()) -> Callable:
    """Decorator: register a factory `fn(**overrides) -> Harmonizer` under `name` (and optional aliases)."""

    def wrap(fn: Callable[..., Harmonizer]) -> Callable[..., Harmonizer]:
        if name in _FACTORIES and _FACTORIES[name] is not fn:
            raise ValueError(f"model {name!r} is registered twice")
        _FACTORIES[name] = fn
        for alias in aliases:
            _ALIASES[alias] = name
        return fn

    return wrap


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _MODEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # the module exists but one of its imports does not
                raise


def resolve_name(name: str) -> str:
    """The canonical registered name for `name` or an alias; raises UnknownModelError."""
    _load_all()
    canonical = _ALIASES.get(name, name)
    if canonical not in _FACTORIES:
        known = ", ".join(list_models())
        raise UnknownModelError(f"unknown model {name!r}; available models: {known}")
    return canonical


def create_model(name: str, **overrides) -> Harmonizer:
    """Build the model registered as `name`, with config fields overridden by keyword."""
    return _FACTORIES[resolve_name(name)](**overrides)


def list_models() -> list[str]:
    """Registered model names (canonical names only), sorted."""
    _load_all()
    return sorted(_FACTORIES)


def list_aliases() -> dict[str, str]:
    _load_all()
    return dict(_ALIASES)
