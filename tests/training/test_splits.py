"""The held-out discipline: training and the unseen split never share a sequence, a photo or a LUT."""

from __future__ import annotations

from pathlib import Path

import pytest

from vh.core.errors import InputError
from vh.training.data import ClipDataset, DataConfig
from vh.training.splits import DAVIS, LUT_NUMBERS, davis_sequences, filter_luts, pair_split


def test_partitions_are_disjoint_and_cover_the_sets():
    assert not set(DAVIS["train"]) & set(DAVIS["unseen"])
    assert not set(LUT_NUMBERS["train"]) & set(LUT_NUMBERS["unseen"])
    assert set(LUT_NUMBERS["train"]) | set(LUT_NUMBERS["unseen"]) == set(range(1, 71))
    luts = [Path(f"{n}.cube") for n in range(1, 71)] + [Path("custom.cube")]
    train, unseen = filter_luts(luts, "train"), filter_luts(luts, "unseen")
    assert {p.stem for p in train} & {p.stem for p in unseen} == {
        "custom"
    }  # unnumbered LUTs are never held out
    names = [f"src/image_{i}" for i in range(2000)]
    held = [n for n in names if pair_split(n) == "unseen"]
    assert 150 < len(held) < 250  # about one in ten, and stable: a pure function of the name
    assert held == [n for n in names if pair_split(n) == "unseen"]
    assert davis_sequences("train", ["camel", "dog", "other"]) == ["camel", "other"]
    with pytest.raises(InputError, match="no DAVIS sequence"):
        davis_sequences("unseen", ["camel"])


def test_dataset_split_filters_pairs(pairs_dir):
    names = {p.stem for p in (pairs_dir / "images").iterdir()}
    for split in ("train", "unseen"):
        cfg = DataConfig(sources=[{"kind": "pairs", "root": str(pairs_dir)}], split=split, recolor=["adjust"])
        try:
            ds = ClipDataset(cfg)
        except InputError:  # a side with no pair among the six fixtures is a clear error, not an empty set
            assert all(pair_split(n) != split for n in names)
            continue
        assert {p.name for p in ds.readers[0].pairs} == {n for n in names if pair_split(n) == split}
    with pytest.raises(InputError, match="data split 'test'"):
        DataConfig.from_dict({"sources": [], "split": "test"})
    with pytest.raises(InputError, match="unknown recolour kind"):
        DataConfig.from_dict({"sources": [], "recolor": ["lutt"]})


@pytest.mark.realdata
def test_real_unseen_split_shares_nothing_with_training(shared_data):
    def dataset(split):
        return ClipDataset(
            DataConfig(
                sources=[
                    {"kind": "pairs", "root": str(shared_data / "train_pairs")},
                    {"kind": "davis", "root": str(shared_data / "davis")},
                ],
                split=split,
                recolor=["hyoutube"],
                luts=str(shared_data / "luts"),
            )
        )

    train, unseen = dataset("train"), dataset("unseen")
    pairs = [{p.name for p in d.readers[0].pairs} for d in (train, unseen)]
    seqs = [{s.name for s in d.readers[1].sequences} for d in (train, unseen)]
    luts = [{p.name for p in d.luts} for d in (train, unseen)]
    for a, b in (pairs, seqs, luts):
        assert a and b and not a & b
    assert len(pairs[1]) > 150 and seqs[1] == {"car-shadow", "dog", "goat"} and len(luts[1]) == 15
