"""Defaults for the Resolve scripts: server address, model and cache folder, from the environment."""

import os

DEFAULT_SERVER = "127.0.0.1:50051"


def server():
    return os.environ.get("VH_SERVER", DEFAULT_SERVER)


def model():
    return os.environ.get("VH_MODEL", "")


def cache_root():
    import vh_outproc

    return vh_outproc.default_cache_root("resolve")


def work_dir(prefix):
    """A scratch folder for frames Resolve renders for us (removed after the job)."""
    import tempfile

    return tempfile.mkdtemp(prefix=prefix)
