"""ClipDataset and EpochSampler: determinism, DDP sharding, resume offsets, flow round trip through disk."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vh.core.errors import InputError
from vh.training.data import ClipDataset, DataConfig, EpochSampler
from vh.training.training_clip import TrainingClip
from vh.training.writer import write_dataset


def config(pairs, **kw) -> DataConfig:
    options = dict(frames=3, size=32, recolor=["adjust", "reinhard"], length=16, flow=True)
    return DataConfig(sources=[{"kind": "pairs", "root": str(pairs)}], **{**options, **kw})


def test_samples_are_a_pure_function_of_seed_and_index(pairs_dir):
    a, b = ClipDataset(config(pairs_dir)), ClipDataset(config(pairs_dir))
    s1, s2 = a[11], b[11]
    assert s1.keys() == {"comp", "real", "matte", "flow", "flow_valid"}
    assert (
        s1["comp"].shape == (3, 3, 32, 32)
        and s1["matte"].shape == (3, 1, 32, 32)
        and s1["flow"].shape == (2, 2, 32, 32)
    )
    assert all(s1[k].dtype == torch.float32 and torch.equal(s1[k], s2[k]) for k in s1)
    assert not torch.equal(a[12]["comp"], s1["comp"])
    assert not torch.equal(ClipDataset(config(pairs_dir, seed=1))[11]["real"], s1["real"])


def test_sampler_shards_ranks_and_skips_for_resume():
    ranks = [list(EpochSampler(10, r, 2, seed=4)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 5 and not set(ranks[0]) & set(ranks[1])
    s = EpochSampler(10, 0, 2, seed=4)
    s.set_epoch(1)
    epoch1 = list(s)
    assert all(10 <= i < 20 for i in epoch1) and [i - 10 for i in epoch1] != ranks[0]
    s.set_epoch(1, skip=2)
    assert list(s) == epoch1[2:] and len(s) == 3


def test_built_set_round_trips_with_flow(pairs_dir, tmp_path):
    ds = ClipDataset(config(pairs_dir))
    clips = [ds.clip(i) for i in range(3)]
    stats = write_dataset(tmp_path / "set", clips)
    assert stats["clips"] == 3 and stats["frames"] == 9 and stats["bytes"] > 0
    built = ClipDataset(
        DataConfig(
            sources=[{"kind": "hyoutube", "root": str(tmp_path / "set")}],
            frames=3,
            size=32,
            flow=True,
            length=4,
        )
    )
    sample = built[0]
    name = built.clip(0).name  # "<index>_<source>/object_0"
    original = clips[int(name.split("_")[0])]
    assert np.abs(sample["flow"].numpy() - original.flow).max() < 0.02  # float16 storage
    assert (
        np.abs(sample["real"].numpy().transpose(0, 2, 3, 1) - original.real).mean() < 0.05
    )  # JPEG q95, 4:2:0 chroma on a 32 px texture


def test_configuration_errors(pairs_dir):
    with pytest.raises(InputError, match="no data sources"):
        ClipDataset(DataConfig())
    with pytest.raises(InputError, match="kind 'coco'"):
        ClipDataset(DataConfig(sources=[{"kind": "coco", "root": "x"}]))
    with pytest.raises(InputError, match=r"unknown config key 'data.frame' \(did you mean 'frames'\?\)"):
        DataConfig.from_dict({"frame": 8})
    with pytest.raises(InputError, match="config key 'data.size' is an integer, got 1.5"):
        DataConfig.from_dict({"size": 1.5})
    with pytest.raises(InputError, match="config key 'data.length' is 0 but must be >= 1"):
        DataConfig(length=0).validate()  # built in code, not from a config: validate checks the same


def test_clips_without_exact_flow_batch_with_a_flow_marked_invalid():
    t, h, w = 3, 4, 5
    frames = np.zeros((t, h, w, 3), np.float32)
    exact = np.ones((t - 1, 2, h, w), np.float32)
    with_flow = TrainingClip("dancing", frames, frames, frames[..., 0], exact).to_sample(with_flow=True)
    video = TrainingClip("davis", frames, frames, frames[..., 0]).to_sample(with_flow=True)
    assert with_flow["flow_valid"].tolist() == [1.0, 1.0] and torch.equal(
        with_flow["flow"], torch.ones(2, 2, h, w)
    )
    assert video["flow_valid"].tolist() == [0.0, 0.0] and not video["flow"].any()
    batch = torch.utils.data.default_collate([with_flow, video])
    assert batch["flow"].shape == (2, t - 1, 2, h, w) and batch["flow_valid"].shape == (2, t - 1)


def test_scene_grade_relights_composite_and_truth_alike(pairs_dir):
    from vh.training.recolor import grade

    plain = ClipDataset(config(pairs_dir, recolor=["grade"]))
    relit = ClipDataset(config(pairs_dir, recolor=["grade"], scene_grade=1.0))
    for i in range(3):
        before, after = plain.clip(i), relit.clip(i)
        assert "scene_grade" not in before.meta
        ops = [(op, tuple(p)) for op, p in after.meta["scene_grade"]]
        assert ops  # one sampled grade of 2-4 operations, recorded for provenance
        for frames_before, frames_after in ((before.comp, after.comp), (before.real, after.real)):
            expected = np.stack([grade(f, ops) for f in frames_before])
            np.testing.assert_allclose(frames_after, expected, atol=1e-6)
        assert not np.allclose(after.real, before.real, atol=0.02)  # a new light, visibly
        np.testing.assert_array_equal(after.matte, before.matte)
        # The plate stays a plate (composite equals truth outside the matte) and the foreground stays off.
        outside = before.matte == 0
        assert np.array_equal(before.comp[outside], before.real[outside])
        np.testing.assert_allclose(after.comp[outside], after.real[outside], atol=1e-6)
        inside = before.matte > 0.5
        assert np.abs(after.comp[inside] - after.real[inside]).mean() > 0.01


def test_scene_grade_is_a_share_of_clips(pairs_dir):
    half = ClipDataset(config(pairs_dir, scene_grade=0.5))
    relit = sum("scene_grade" in half.clip(i).meta for i in range(40))
    assert 8 < relit < 32
    for bad in (-0.1, 1.5):
        with pytest.raises(InputError, match="scene_grade"):
            DataConfig.from_dict({"scene_grade": bad})
