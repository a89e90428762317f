"""Which OCIO configs a client may make the server use (StreamHeader.ocio_config).

A header's config is a name the server looks up, never a path it opens on a client's behalf: otherwise any
client could have the server parse /etc/shadow or /proc/self/environ as a config and read pieces of it back in
the error, or tell which files exist from the error's wording. A client may name

- nothing (or the server's own config, $OCIO or the pinned default): the server's config;
- a built-in `ocio://` config: compiled into OpenColorIO, nothing is read from disk;
- a config file inside a folder the operator allows (`vh-server --ocio-dir DIR`), by its path relative to the
  folder or by an absolute path (a studio's shared config path, as Nuke and Resolve send it). Symbolic links
  are followed before the check, so a link out of the folder is refused.

Anything else is refused with one message that does not depend on the file (exists or not, readable or not).
An allowed config is loaded without this process's environment: `$VAR` in its paths takes the default its
`environment:` section declares, never the server's variable (a planted config could otherwise spell a secret
into a LUT path that the error then quotes). Its errors reach the client as one fixed message; the details go
to the server log."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from vh.core import color
from vh.core.errors import InputError

log = logging.getLogger("vh.server")


class ConfigPolicy:
    """The allow-list of `--ocio-dir` folders, and the configs loaded from them."""

    def __init__(self, folders: list[str] | tuple[str, ...] = ()):
        self.folders = [Path(os.path.realpath(f)) for f in folders]
        self._loaded: set[str] = set()  # config keys registered with vh.core.color
        self._checked: set[tuple[str, str]] = set()  # (config key, colourspace) pairs that convert
        self._lock = threading.Lock()

    def resolve(self, requested: str, colorspace: str) -> str | None:
        """The vh.core.color config key for a header's `ocio_config` (None: the server's own), once
        `colorspace` is known to convert to and from the models' working space in it; InputError otherwise."""
        if not requested or requested == color._config_key(None):
            return None
        if requested.startswith("ocio://"):
            return requested  # built-in configs: OCIO's own messages name nothing on disk
        path = self._allowed(requested)
        if path is None:
            raise InputError(
                f"OCIO config {requested!r} is not one this server offers: use a built-in ocio:// config, "
                "leave it empty for the server's own, or name a config in a folder the server's operator "
                "allows (--ocio-dir)"
            )
        key = str(path)
        with self._lock:
            if (key, colorspace) in self._checked:
                return key
            try:
                self._load(key)
                _check_conversion(key, colorspace)
            except (InputError, *color.OCIO_ERRORS) as exc:
                log.warning(
                    "OCIO config %s (asked for as %r), colourspace %r: %s", key, requested, colorspace, exc
                )
                raise InputError(
                    f"OCIO config {requested!r} cannot convert colourspace {colorspace!r}: the colourspace "
                    "is unknown to it, or the config is invalid or names a file that is missing or "
                    "unreadable (the server log says which)"
                ) from None
            self._checked.add((key, colorspace))
        return key

    def _allowed(self, requested: str) -> Path | None:
        given = Path(requested)
        candidates = [given] if given.is_absolute() else [folder / given for folder in self.folders]
        for candidate in candidates:
            real = Path(os.path.realpath(candidate))  # follows links and `..` before the check
            if any(real.is_relative_to(folder) for folder in self.folders) and real.is_file():
                return real
        return None

    def _load(self, key: str) -> None:
        """Load the config at `key` sealed from this process's environment and register it under its path."""
        import PyOpenColorIO as ocio

        if key in self._loaded:
            return
        cfg = ocio.Config.CreateFromFile(key)
        declared = {name: cfg.getEnvironmentVarDefault(name) for name in cfg.getEnvironmentVarNames()}
        cfg.clearEnvironmentVars()
        cfg.setEnvironmentMode(ocio.ENV_ENVIRONMENT_LOAD_PREDEFINED)
        cfg.loadEnvironment()  # nothing is declared any more: the context holds no variable of this process
        context = cfg.getCurrentContext()
        for name, default in declared.items():
            context.setStringVar(name, default)
        cfg.validate()
        color.register_config(key, cfg)
        self._loaded.add(key)


def _check_conversion(key: str, colorspace: str) -> None:
    """Build the processors a stream needs (they are cached for it), so a LUT that is missing fails here."""
    pixel = np.zeros((1, 3), np.float32)
    working = color.working_space(key)
    color.convert(color.convert(pixel, colorspace, working, key), working, colorspace, key)
