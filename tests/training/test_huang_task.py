"""The "huang" training task: alternating D/G steps on two-frame batches, with and without flow."""

import numpy as np
import pytest
import torch

from vh.core.models.huang import HuangHarmonizer, to_signed
from vh.training.tasks import create_task
from vh.training.tasks.huang import HuangTask

TINY = {"name": "huang_tiny", "input_size": 32, "base_channels": 4, "max_channels": 16, "depth": 3}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_task(model: dict | None = None, **optim) -> HuangTask:
    """The task as the framework sets it up on the CPU (no DDP: nets and raw are the same modules)."""
    torch.manual_seed(0)
    task = create_task("huang", {"model": dict(model or TINY), "optim": optim}, "cpu")
    task.raw = task.build_models()
    task.nets = dict(task.raw)
    task.optimizers = task.build_optimizers()
    task.schedulers = task.build_schedulers(total_steps=10)
    return task


def synthetic_batch(b: int = 2, t: int = 2, size: int = 32, flow: bool = True) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    real = torch.rand(b, t, 3, size, size, generator=g)
    matte = torch.zeros(b, t, 1, size, size)
    matte[..., 8:24, 8:24] = 1.0
    comp = real * (1 - matte) + (real * 0.6 + 0.3) * matte  # a recoloured square
    batch = {"comp": comp, "real": real, "matte": matte}
    if flow:
        batch["flow"] = torch.zeros(b, t - 1, 2, size, size)
    return batch


def test_task_is_registered_and_builds_the_named_variant():
    task = make_task()
    assert isinstance(task, HuangTask) and task.model_name == "huang_tiny"
    assert isinstance(task.harmonizer(), HuangHarmonizer)
    assert set(task.raw) == {"G", "D"} and task.raw["G"] is task.harmonizer().generator
    assert task.eval_models() == {}  # D is saved inside the harmonizer


def test_adam_defaults_are_the_papers_lr_with_beta1_half_and_fixed_lr():
    task = make_task()
    for opt in task.optimizers.values():
        assert opt.param_groups[0]["lr"] == 2e-4 and opt.param_groups[0]["betas"] == (0.5, 0.999)
    assert task.schedulers == {}
    cosine = make_task(schedule="cosine", lr=1e-3, betas=[0.9, 0.999])
    assert set(cosine.schedulers) == {"G", "D"}
    assert cosine.optimizers["G"].param_groups[0]["betas"] == (0.9, 0.999)


def test_one_step_updates_both_networks_and_logs_finite_losses():
    task = make_task()
    g0 = [p.detach().clone() for p in task.raw["G"].parameters()]
    d0 = [p.detach().clone() for p in task.raw["D"].parameters()]
    logs = task.train_step(synthetic_batch(), step=0)
    assert {"loss_D", "loss_G", "rec", "temporal", "adv", "d_separation"} <= set(logs)
    assert all(torch.isfinite(torch.as_tensor(v)) for v in logs.values())
    assert any(not torch.equal(a, p) for a, p in zip(g0, task.raw["G"].parameters()))
    assert any(not torch.equal(a, p) for a, p in zip(d0, task.raw["D"].parameters()))
    assert all(p.requires_grad for p in task.raw["D"].parameters())  # D unfrozen again after G's step


def test_generator_step_does_not_train_the_discriminator():
    # The G step must leave D alone: with D's lr at 0 its weights cannot move even though G's loss goes
    # through D.
    task = make_task()
    for group in task.optimizers["D"].param_groups:
        group["lr"] = 0.0
    d0 = [p.detach().clone() for p in task.raw["D"].parameters()]
    task.train_step(synthetic_batch(), step=0)
    assert all(torch.equal(a, p) for a, p in zip(d0, task.raw["D"].parameters()))


def test_temporal_term_needs_flow_and_matches_the_warp():
    task = make_task()
    with_flow = task.train_step(synthetic_batch(flow=True), step=0)
    assert with_flow["temporal"] > 0  # two different frames under zero flow: inconsistent outputs
    no_flow = make_task().train_step(synthetic_batch(flow=False), step=0)
    assert float(no_flow["temporal"]) == 0.0
    # same first D/G forward: only the temporal term differs, so G's logged reconstruction is identical
    assert float(no_flow["rec"]) == pytest.approx(float(with_flow["rec"]))


def test_temporal_term_leaves_out_clips_without_exact_flow():
    batch = synthetic_batch(flow=True)
    batch["flow_valid"] = torch.ones(2, 1)
    both = make_task().train_step(dict(batch), step=0)
    batch["flow_valid"] = torch.tensor([[1.0], [0.0]])  # the second clip is real video: no exact flow
    one = make_task().train_step(dict(batch), step=0)
    batch["flow_valid"] = torch.zeros(2, 1)
    none = make_task().train_step(dict(batch), step=0)
    assert float(none["temporal"]) == 0.0 < float(one["temporal"]) < float(both["temporal"])


@pytest.mark.parametrize("name", ["huang.yaml", "huang_tiny.yaml"])
def test_shipped_configs_resolve_and_build(repo_root, name):
    from vh.training.train import load_config, resolve

    config = load_config(repo_root / "training" / "configs" / name)
    resolved, train, _, data = resolve(config)
    assert config["task"] == "huang" and data.frames == 2 and data.flow
    if name == "huang.yaml":  # the paper's setting: one pair of consecutive 512x512 frames per step
        assert train.batch_size == 1 and data.size == 512 and resolved["optim"]["lr"] == 2e-4
    task = create_task("huang", resolved, "cpu")
    with torch.device("meta"):  # the paper-size networks without allocating them
        nets = task.build_models()
    assert task.harmonizer().input_size == (data.size, data.size)
    assert set(nets) == {"G", "D"}


def test_nan_input_stops_with_a_named_error():
    from vh.training.tasks import NonFiniteLossError

    batch = synthetic_batch()
    batch["comp"][0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(NonFiniteLossError, match="'D'"):
        make_task().train_step(batch, step=0)


def _hyoutube_pair(root, clip_name: str, size: int, start: int = 0):
    """Frames start, start+1 of one clip at size x size, resized as the evaluation protocol does."""
    import cv2

    from vh.core.io.hyoutube import HYouTube

    ds = HYouTube(root, split="test")
    clip = next(c for c in ds if c.name == clip_name)
    frames = [f.as_float() for f in ds.read(clip, start, start + 2)]

    def rs(a, interp):
        return cv2.resize(a, (size, size), interpolation=interp)

    comp = np.stack([rs(c, cv2.INTER_LINEAR) for c, _, _ in frames])  # [T, S, S, 3]
    real = np.stack([rs(r, cv2.INTER_LINEAR) for _, r, _ in frames])
    matte = np.stack([rs(m, cv2.INTER_NEAREST) for _, _, m in frames])  # [T, S, S]

    def as_t(a):
        return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))[None]

    return {"comp": as_t(comp), "real": as_t(real), "matte": torch.from_numpy(matte)[None, :, None]}


@pytest.mark.realdata
def test_few_alternating_steps_on_a_real_clip_separate_d_and_lower_g_reconstruction(shared_data):
    # dog-1: a LUT that brightens the dog by ~0.2; two consecutive frames at 32x32 (HYouTube data has no flow)
    batch = _hyoutube_pair(shared_data / "hyoutube_val", "dog-1/object_0", size=32)
    task = make_task(
        {"name": "huang_tiny", "input_size": 32, "base_channels": 8, "max_channels": 32, "depth": 3}, lr=2e-3
    )
    model = task.harmonizer()

    def measure() -> tuple[float, float]:
        with torch.no_grad():
            comp = to_signed(batch["comp"]).flatten(0, 1)  # [T, 3, H, W]
            real = to_signed(batch["real"]).flatten(0, 1)
            m = batch["matte"].flatten(0, 1)  # [T, 1, H, W]
            sep = ((model.discriminate(comp) - model.discriminate(real)) * m).sum() / m.sum()
            rec = (model.generate(comp, m) - real).pow(2).sum(1).mean()  # 1/N ||O - X||^2
        return float(sep), float(rec)

    sep0, rec0 = measure()
    for step in range(60):
        task.train_step(batch, step)
    sep1, rec1 = measure()
    # D starts at 0 everywhere (zero-initialised head), so any separation is learned: inside the mask it must
    # answer higher on the composite than on the real frame (ideal: 1 vs 0)
    assert sep0 == 0.0
    assert sep1 > 0.4, sep1
    assert rec1 < 0.3 * rec0, (rec0, rec1)
