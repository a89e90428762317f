"""Training data as torch datasets: clips generated on the fly from sources, or read from a HYouTube-layout
folder.

Sources (the `data.sources` list of a run config, or `vh make-dataset` inputs):

    {kind: pairs,     root: train_pairs}        image+mask folders -> dancing clips (exact flow)
    {kind: iharmony4, root: iharmony4}          the real image + mask of each triplet -> dancing clips
    {kind: davis,     root: davis}              real videos -> recoloured windows (no flow)
    {kind: hyoutube,  root: built_set, split: train}   a HYouTube-layout folder (e.g. from make-dataset)

Each source may carry `weight` (default 1): the share of clips drawn from it, whatever its size; within a
source, items are drawn uniformly. `list_file` restricts pairs/iharmony4/hyoutube sources to the listed items.

Determinism. `ClipDataset[i]` is a pure function of (seed, i): its RNG is seeded with both, so a clip can be
regenerated anywhere (another worker, another rank, a resumed run) bit for bit. Epochs draw fresh clips
through `EpochSampler`, which hands out indices `epoch * length + j`, sharded over DDP ranks, and can start
mid-epoch."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from vh.core.errors import InputError
from vh.core.options import check_fields, option
from vh.training.dancing import DancingConfig, make_dancing_clip
from vh.training.recolor import DEFAULT_KINDS, KINDS, Recolor, grade, sample_grade, sample_recolor
from vh.training.splits import check_split, davis_sequences, filter_luts, pair_split
from vh.training.training_clip import TrainingClip
from vh.training.videoclips import VideoClipConfig, make_video_clip

SOURCE_KINDS = ("pairs", "iharmony4", "davis", "hyoutube")
FLOW_DIR = "flow"  # <root>/flow/<clip>/object_k.npz, beside the HYouTube folders


@dataclass
class DataConfig:
    sources: list[dict[str, Any]] = field(default_factory=list)
    frames: int = option(8, help="frames per clip", min=2, max=256)
    size: int = option(256, help="clip frames are size x size", min=16, max=2048)
    # : put exact flow in batches (pairs, iharmony4 and built sets have it); DAVIS clips come with flow_valid
    # = 0
    flow: bool = False
    recolor: list[str] = field(
        default_factory=lambda: list(DEFAULT_KINDS)
    )  # a kind listed twice: twice as often
    luts: str | None = None  # folder of .cube files for the `lut` recolouring
    split: str | None = None  # "train" or "unseen" (vh.training.splits); None reads everything
    seed: int = 0
    length: int = option(10000, help="clips per epoch for generated sources", min=1)
    dancing: dict[str, Any] = field(default_factory=dict)  # DancingConfig overrides
    video: dict[str, Any] = field(default_factory=dict)  # VideoClipConfig overrides (stride, crop_min)
    # The share of clips whose whole frame (composite and truth alike) gets a random scene-linear grade after
    # the foreground is recoloured: a new scene illumination, so that the model learns the foreground's colour
    # from its plate rather than from how such objects usually look. 0 keeps the sources' own light; 0.5 was
    # measured worse on calib and unseen alike (core/weights/MODEL_CARD.md, "Relighting the whole scene").
    scene_grade: float = option(0.0, help="share of clips relit as a whole", min=0.0, max=1.0)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataConfig:
        config = cls(**check_fields(cls, d, "data"))
        config.validate()
        return config

    def validate(self) -> None:
        """Every field's type and range (as `from_dict` checks them), and those of the `dancing` and `video`
        overrides (kept as their kinds), the split and the recolour kinds."""
        check_fields(DataConfig, {f.name: getattr(self, f.name) for f in fields(self)}, "data")
        for name, cls in (("dancing", DancingConfig), ("video", VideoClipConfig)):
            overrides = getattr(self, name)
            shared = sorted({"frames", "size"} & set(overrides))
            if shared:
                raise InputError(f"set data.{shared[0]} once for every source, not data.{name}.{shared[0]}")
            setattr(self, name, check_fields(cls, overrides, f"data.{name}"))
        check_split(self.split)
        bad = sorted(set(self.recolor) - set(KINDS))
        if bad:
            raise InputError(f"unknown recolour kind(s) {bad} in data.recolor; known: {list(KINDS)}")


def _open_source(spec: dict[str, Any], split: str | None = None):
    kind, root = spec.get("kind"), spec.get("root")
    if kind not in SOURCE_KINDS:
        raise InputError(f"data source kind {kind!r} is not one of {SOURCE_KINDS}")
    if not root:
        raise InputError(f"data source {kind!r} needs a root folder")
    if kind == "pairs":
        from vh.training.datasets.pairs import ImageMaskFolder

        folder = ImageMaskFolder(root, spec.get("list_file"))
        if split is not None:
            folder.pairs = [p for p in folder.pairs if pair_split(p.name) == split]
        return folder
    if kind == "iharmony4":
        from vh.training.datasets.iharmony4 import IHarmony4

        return IHarmony4(root, spec.get("list_file"))
    if kind == "davis":
        from vh.training.datasets.davis import Davis

        sequences = spec.get("sequences")
        if split is not None:
            names = sequences or sorted(p.name for p in (Path(root) / "JPEGImages").iterdir() if p.is_dir())
            sequences = davis_sequences(split, names)
        return Davis(root, sequences, spec.get("objects", "first"))
    from vh.core.io.hyoutube import HYouTube

    return HYouTube(root, split=spec.get("split", "train"), list_file=spec.get("list_file"))


class ClipDataset(Dataset):
    """Clips of `config.frames` frames at `config.size`, generated deterministically from the sources."""

    def __init__(self, config: DataConfig):
        if not config.sources:
            raise InputError("no data sources configured (data.sources is empty)")
        config.validate()
        self.config = config
        self.kinds = [s["kind"] for s in config.sources]
        self.readers = [_open_source(s, config.split) for s in config.sources]
        weights = np.array([float(s.get("weight", 1.0)) for s in config.sources])
        if (weights <= 0).all():
            raise InputError("all data source weights are zero")
        self.weights = weights / weights.sum()
        from vh.training.lut import list_luts

        wants_luts = config.luts and {"lut", "hyoutube"} & set(config.recolor)
        self.luts = filter_luts(list_luts(config.luts), config.split) if wants_luts else None
        self.dancing = DancingConfig(frames=config.frames, size=config.size, **config.dancing)
        self.video = VideoClipConfig(frames=config.frames, size=config.size, **config.video)
        # Reinhard donors are other images' foregrounds: any image source provides them
        self.donor_readers = [r for k, r in zip(self.kinds, self.readers) if k in ("pairs", "iharmony4")]

    def __len__(self) -> int:
        return self.config.length

    def _donor(self, rng: np.random.Generator) -> tuple[str, np.ndarray, np.ndarray]:
        reader = self.donor_readers[int(rng.integers(len(self.donor_readers)))]
        item = reader[int(rng.integers(len(reader)))]
        data = item.read()
        image, mask = (data[2], data[1]) if len(data) == 3 else data  # iHarmony4: use the real image
        return item.name, image, mask

    def _recolor(self, rng: np.random.Generator) -> Recolor:
        donor = self._donor if self.donor_readers else None
        return sample_recolor(rng, tuple(self.config.recolor), self.luts, donor)

    def clip(self, index: int) -> TrainingClip:
        """The clip for `index` (any non-negative int; epochs use index = epoch * length + j)."""
        rng = np.random.default_rng([self.config.seed, index])
        for _attempt in range(10):  # a tiny mask or a short sequence: draw another item, deterministically
            s = int(rng.choice(len(self.readers), p=self.weights))
            kind, reader = self.kinds[s], self.readers[s]
            item = reader[int(rng.integers(len(reader)))]
            try:
                if kind in ("pairs", "iharmony4"):
                    data = item.read()
                    image, mask = (data[2], data[1]) if kind == "iharmony4" else data
                    clip = make_dancing_clip(image, mask, self._recolor(rng), rng, self.dancing, item.name)
                elif kind == "davis":
                    clip = make_video_clip(item, self._recolor(rng), rng, self.video)
                else:
                    clip = self._read_built(reader, item, rng)
            except InputError as exc:
                if "min_coverage" in str(exc) or "a clip needs" in str(exc):
                    continue
                raise
            clip.meta["index"] = int(index)
            if self.config.scene_grade and rng.random() < self.config.scene_grade:
                clip = regrade_scene(clip, rng)
            return clip
        raise InputError(
            f"no usable item after 10 draws for clip {index}: masks too small or sequences too short"
        )

    def _read_built(self, reader, record, rng: np.random.Generator) -> TrainingClip:
        import cv2

        n, size = self.config.frames, self.config.size
        if len(record) < n:
            raise InputError(f"clip {record.name} has {len(record)} frames; a clip needs {n}")
        start = int(rng.integers(0, len(record) - n + 1))
        comp, real, matte = [], [], []
        for f in reader.read(record, start, start + n):
            c, r, m = f.as_float()
            if c.shape[:2] != (size, size):
                c, r = (cv2.resize(x, (size, size), interpolation=cv2.INTER_AREA) for x in (c, r))
                m = (cv2.resize(m, (size, size), interpolation=cv2.INTER_NEAREST) > 0.5).astype(np.float32)
            comp.append(c), real.append(r), matte.append(m)
        flow = None
        if self.config.flow:
            path = Path(reader.root) / FLOW_DIR / f"{record.name}.npz"
            if not path.is_file():
                raise InputError(f"data.flow is set but {path} is missing")
            flow = np.load(path)["flow"][start : start + n - 1].astype(np.float32)  # [T-1, 2, H, W]
            if flow.shape[-2:] != (size, size):
                raise InputError(
                    f"{path} holds flow at {flow.shape[-1]}x{flow.shape[-2]}; data.size is {size}"
                )
        return TrainingClip(
            record.name, np.stack(comp), np.stack(real), np.stack(matte), flow, {"kind": "built"}
        )

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.clip(int(index)).to_sample(with_flow=self.config.flow)

    def summary(self) -> dict[str, Any]:
        """JSON-able description for checkpoint sidecars and run logs."""
        return {
            "sources": [{**s, "items": len(r)} for s, r in zip(self.config.sources, self.readers)],
            "frames": self.config.frames,
            "size": self.config.size,
            "recolor": list(self.config.recolor),
            "luts": len(self.luts) if self.luts else 0,
            "split": self.config.split,
            "seed": self.config.seed,
        }


def regrade_scene(clip: TrainingClip, rng: np.random.Generator) -> TrainingClip:
    """`clip` under another light: one sampled grade over every whole frame of the composite and the truth.

    The foreground keeps its disharmony (it is the recolouring followed by the same grade as the plate), and
    the truth stays a photo whose foreground matches its plate, now in a light the sources never had."""
    ops = sample_grade(rng)
    clip.comp = grade(clip.comp, ops)  # [T, H, W, 3] float32, the whole clip at once
    clip.real = grade(clip.real, ops)  # [T, H, W, 3]
    clip.meta["scene_grade"] = [[op, list(p)] for op, p in ops]
    return clip


class EpochSampler(Sampler[int]):
    """Indices `epoch * length + j` for this rank's share of j, starting after `skip` of them (for resume).

    Every rank gets the same number of indices (DDP needs equal step counts): the tail that does not divide
    evenly is dropped, as DistributedSampler(drop_last=True) does.
    """

    def __init__(self, length: int, rank: int = 0, world: int = 1, shuffle: bool = True, seed: int = 0):
        self.length, self.rank, self.world, self.shuffle, self.seed = length, rank, world, shuffle, seed
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    def __len__(self) -> int:
        return self.length // self.world - self.skip

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.length, generator=g).tolist()
        else:
            order = list(range(self.length))
        mine = order[self.rank : self.length // self.world * self.world : self.world]
        base = self.epoch * self.length
        return iter(base + j for j in mine[self.skip :])


def init_worker(_: int) -> None:
    """DataLoader worker setup: one thread each for OpenCV and torch, so N workers use N cores, not N^2.
    Workers ignore SIGINT and SIGTERM: a Ctrl-C reaches the whole process group, and the trainer finishes
    its step and saves (it still needs the loader for that); the loader ends its workers itself."""
    import signal

    import cv2

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
