"""Harmonization models behind one interface (`Harmonizer`) and one registry (`create_model`)."""

from vh.core.models.base import Harmonizer, ModelOption, blend
from vh.core.models.registry import DEFAULT_MODEL, create_model, list_models, register_model, resolve_name

__all__ = [
    "DEFAULT_MODEL",
    "Harmonizer",
    "ModelOption",
    "blend",
    "create_model",
    "list_models",
    "register_model",
    "resolve_name",
]
