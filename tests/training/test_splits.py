"""The held-out discipline: train, calib and unseen never share a sequence, a photo or a LUT."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from vh.core.errors import InputError
from vh.training.data import ClipDataset, DataConfig
from vh.training.splits import DAVIS, LUT_NUMBERS, SPLITS, davis_sequences, filter_luts, pair_split


def test_partitions_are_disjoint_and_cover_the_sets():
    for a, b in itertools.combinations(SPLITS, 2):
        assert not set(DAVIS[a]) & set(DAVIS[b])
        assert not set(LUT_NUMBERS[a]) & set(LUT_NUMBERS[b])
    assert set().union(*(LUT_NUMBERS[s] for s in SPLITS)) == set(range(1, 71))
    luts = [Path(f"{n}.cube") for n in range(1, 71)] + [Path("custom.cube")]
    stems = {s: {p.stem for p in filter_luts(luts, s)} for s in SPLITS}
    for a, b in itertools.combinations(SPLITS, 2):
        assert stems[a] & stems[b] == {"custom"}  # unnumbered LUTs are never held out
    names = [f"src/image_{i}" for i in range(2000)]
    for split in ("unseen", "calib"):
        held = [n for n in names if pair_split(n) == split]
        assert 150 < len(held) < 250  # about one in ten each, and stable: a pure function of the name
        assert held == [n for n in names if pair_split(n) == split]
    assert davis_sequences("train", ["camel", "dog", "blackswan", "other"]) == ["camel", "other"]
    assert davis_sequences("calib", ["camel", "blackswan"]) == ["blackswan"]
    with pytest.raises(InputError, match="no DAVIS sequence"):
        davis_sequences("unseen", ["camel"])


def test_dataset_split_filters_pairs(pairs_dir):
    names = {p.stem for p in (pairs_dir / "images").iterdir()}
    for split in SPLITS:
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
def test_real_splits_share_nothing(shared_data):
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

    sets = {s: dataset(s) for s in SPLITS}
    pairs = {s: {p.name for p in d.readers[0].pairs} for s, d in sets.items()}
    seqs = {s: {q.name for q in d.readers[1].sequences} for s, d in sets.items()}
    luts = {s: {p.name for p in d.luts} for s, d in sets.items()}
    for kind in (pairs, seqs, luts):
        for a, b in itertools.combinations(SPLITS, 2):
            assert kind[a] and kind[b] and not kind[a] & kind[b]
    assert len(pairs["unseen"]) > 150 and seqs["unseen"] == {"car-shadow", "dog", "goat"}
    assert len(pairs["calib"]) > 150 and seqs["calib"] == {"blackswan"}
    assert len(luts["unseen"]) == 15 and len(luts["calib"]) == 7
    assert seqs["train"] == {"camel", "cows"} and len(luts["train"]) == 48
