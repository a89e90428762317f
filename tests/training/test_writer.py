"""vh.training.writer: a set is published whole or not at all, and --overwrite never loses the old one."""

from __future__ import annotations

import numpy as np
import pytest

from vh.core.errors import OutputError
from vh.training.training_clip import TrainingClip
from vh.training.writer import write_dataset


def _clips(n: int, value: float) -> list[TrainingClip]:
    frames = np.full((2, 16, 16, 3), value, np.float32)
    matte = np.zeros((2, 16, 16), np.float32)
    matte[:, 4:12, 4:12] = 1.0
    return [TrainingClip(f"clip{i}", frames, frames, matte) for i in range(n)]


def _listing(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_overwrite_replaces_the_set_and_leaves_nothing_beside_it(tmp_path):
    out = tmp_path / "set"
    assert write_dataset(out, _clips(2, 0.2))["clips"] == 2
    with pytest.raises(OutputError, match="already exists; pass --overwrite"):
        write_dataset(out, _clips(3, 0.8))
    assert (out / "train_list.txt").read_text().count("\n") == 2
    assert write_dataset(out, _clips(3, 0.8), overwrite=True)["clips"] == 3
    assert (out / "train_list.txt").read_text().count("\n") == 3
    assert [p.name for p in tmp_path.iterdir()] == ["set"]


def test_a_replacement_that_fails_midway_keeps_the_old_set(tmp_path):
    out = tmp_path / "set"
    write_dataset(out, _clips(2, 0.2))
    before = _listing(out)

    def failing():
        yield from _clips(1, 0.8)
        raise KeyboardInterrupt  # Ctrl-C, or SIGTERM as the CLI raises it, after one clip

    with pytest.raises(KeyboardInterrupt):
        write_dataset(out, failing(), overwrite=True)
    assert _listing(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["set"]


def test_a_publish_that_fails_between_the_renames_restores_the_old_set(tmp_path, monkeypatch):
    import os

    out = tmp_path / "set"
    write_dataset(out, _clips(2, 0.2))
    before = _listing(out)
    replace = os.replace

    def publish_fails(src, dst):
        if ".partial-" in str(src):
            raise OSError("disk gone")
        replace(src, dst)

    monkeypatch.setattr(os, "replace", publish_fails)
    with pytest.raises(OSError, match="disk gone"):
        write_dataset(out, _clips(3, 0.8), overwrite=True)
    assert _listing(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["set"]
