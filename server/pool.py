"""The models one server process holds: one `vh.core.engine.Engine` per loaded model (and per option set).

Models are loaded at start-up (`--model`, `--checkpoint`), so the first client never waits for weights and
a typo fails the launch, not a render. A request with non-default options gets its own engine, built on
demand and kept in a small LRU, because options are model constructor arguments (`create_model(name,
**overrides)`)."""

from __future__ import annotations

import copy
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vh.client import wire
from vh.client.v1 import harmonize_pb2 as pb
from vh.core.errors import InputError, UnknownModelError
from vh.core.models.registry import list_aliases, resolve_name
from vh.core.options import ModelOption, OptionValue, check_options

log = logging.getLogger("vh.server")


@dataclass(frozen=True)
class ModelSpec:
    """One model to serve: `name` clients ask for, the registry `model`, and optional checkpoint weights."""

    name: str
    model: str
    checkpoint: str | None = None

    @classmethod
    def parse_checkpoint(cls, text: str) -> ModelSpec:
        """`path` (served under the model name in its sidecar) or `name=path`."""
        from vh.core.checkpoint import read_meta

        name, sep, path = text.partition("=")
        if not sep:
            name, path = "", text
        model = read_meta(path)["model"]
        return cls(name=name or model, model=model, checkpoint=path)


@dataclass
class LoadedModel:
    spec: ModelSpec
    engine: Any  # vh.core.engine.Engine
    options: list[ModelOption]
    variants: OrderedDict = field(default_factory=OrderedDict)  # frozen overrides -> Engine

    @property
    def harmonizer(self) -> Any:
        return self.engine.model


class ModelPool:
    """Loaded engines by served name; `lease(name, options)` hands one stream its engine."""

    def __init__(
        self, specs: list[ModelSpec], device: str, batch: int, max_variants: int = 4, max_free: int = 8
    ):
        from vh.core.engine import Engine

        if not specs:
            raise InputError("no model to serve; pass --model NAME or --checkpoint PATH")
        self._engine_cls = Engine
        self.device = device
        self.batch = batch
        self.max_variants = max_variants
        self.max_free = max_free  # idle private engines kept per stateful model
        self._free: dict[int, list] = {}
        self._lock = threading.Lock()
        self.models: dict[str, LoadedModel] = {}
        for spec in specs:
            if spec.name in self.models:
                raise InputError(
                    f"model name {spec.name!r} is given twice; use --checkpoint NAME=PATH to rename"
                )
            if spec.checkpoint is None:
                resolve_name(spec.model)  # UnknownModelError with the list of models, before any loading
            elif (
                not Path(spec.checkpoint).with_suffix(".json").exists() and not Path(spec.checkpoint).exists()
            ):
                raise InputError(f"checkpoint {spec.checkpoint} does not exist")
            log.info(
                "loading model %s (%s%s) on %s",
                spec.name,
                spec.model,
                f", {spec.checkpoint}" if spec.checkpoint else "",
                device,
            )
            engine = Engine(model=spec.model, checkpoint=spec.checkpoint, device=device, batch=batch)
            self.models[spec.name] = LoadedModel(spec, engine, list(type(engine.model).options()))
        self.default = specs[0].name

    def _lookup(self, name: str) -> LoadedModel:
        name = name or self.default
        if name in self.models:
            return self.models[name]
        try:
            canonical = resolve_name(name)
        except UnknownModelError:
            canonical = None
        for loaded in self.models.values():
            if canonical is not None and loaded.spec.model == canonical and loaded.spec.checkpoint is None:
                return loaded
        loaded_names = ", ".join(sorted(self.models))
        raise UnknownModelError(f"model {name!r} is not loaded on this server; it serves: {loaded_names}")

    @contextmanager
    def lease(self, name: str, options: dict[str, OptionValue]) -> Iterator[tuple[str, Any]]:
        """(served name, engine) for one stream, with options validated against the model's OptionSpecs.

        Stateless models share one engine, so windows of different streams can be batched into one call. A
        stateful model (temporal smoothing kept inside the model) must not see two clips interleaved, so
        each stream leases an engine of its own, copied from the loaded one and returned to a free list
        afterwards."""
        loaded = self._lookup(name)
        engine = self._variant(loaded, self._overrides(loaded, options))
        if not getattr(engine.model, "stateful", False):
            yield loaded.spec.name, engine
            return
        with self._lock:
            free = self._free.setdefault(id(engine), [])
            private = free.pop() if free else None
        if private is None:
            private = self._engine_cls(
                model=copy.deepcopy(engine.model), device=self.device, batch=self.batch
            )
        try:
            yield loaded.spec.name, private
        finally:
            private.model.reset()
            with self._lock:
                if len(free) < self.max_free:
                    free.append(private)

    def _overrides(self, loaded: LoadedModel, options: dict[str, OptionValue]) -> dict[str, OptionValue]:
        defaults = {o.name: o.default for o in loaded.options}
        checked = check_options(loaded.options, options, loaded.spec.name)
        return {k: v for k, v in checked.items() if v != defaults[k]}

    def _variant(self, loaded: LoadedModel, overrides: dict[str, OptionValue]) -> Any:
        if not overrides:
            return loaded.engine
        key = tuple(sorted(overrides.items()))
        with self._lock:
            engine = loaded.variants.get(key)
            if engine is not None:
                loaded.variants.move_to_end(key)
                return engine
        log.info("building %s with %s", loaded.spec.name, overrides)
        engine = self._engine_cls(
            model=loaded.spec.model,
            checkpoint=loaded.spec.checkpoint,
            device=self.device,
            batch=self.batch,
            **overrides,
        )
        with self._lock:
            loaded.variants[key] = engine
            while len(loaded.variants) > self.max_variants:
                loaded.variants.popitem(last=False)
        return engine

    def info(self) -> list[pb.ModelInfo]:
        aliases = list_aliases()
        out = []
        for name, loaded in self.models.items():
            model = loaded.harmonizer
            size = getattr(model, "input_size", None) or (0, 0)
            out.append(
                pb.ModelInfo(
                    name=name,
                    aliases=sorted(
                        a for a, target in aliases.items() if target == loaded.spec.model and name == target
                    ),
                    window=int(loaded.engine.window),
                    input_height=int(size[0]),
                    input_width=int(size[1]),
                    supports_auto_matte=bool(getattr(model, "supports_auto_matte", False)),
                    checkpoint=Path(loaded.spec.checkpoint).name if loaded.spec.checkpoint else "",
                    options=[option_spec_to_proto(o) for o in loaded.options],
                )
            )
        return out


def option_spec_to_proto(option: ModelOption) -> pb.OptionSpec:
    # The default travels in the field its kind names (a float option whose default is written `4` is a
    # number).
    cast = {"float": float, "int": int, "bool": bool, "choice": str}.get(option.kind)
    default = cast(option.default) if cast else option.default
    spec = pb.OptionSpec(
        name=option.name,
        kind=option.kind,
        help=option.help,
        default_value=wire.option_to_proto(default),
        choices=list(option.choices),
    )
    if option.minimum is not None:
        spec.minimum = float(option.minimum)
    if option.maximum is not None:
        spec.maximum = float(option.maximum)
    return spec
