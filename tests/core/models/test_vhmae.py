import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from vh.core.errors import InputError
from vh.core.models import create_model
from vh.core.models.registry import list_aliases
from vh.core.models.vhmae import VHMAE, VHMAEConfig

SIDE = 64  # vhmae_tiny at 64x64: 4 x 4 x 4 = 64 tokens, fast on a CPU


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(**kw) -> VHMAE:
    torch.manual_seed(0)
    return create_model("vhmae_tiny", input_size=SIDE, **kw).eval()


def box_matte(b: int, y0: int, y1: int, x0: int, x1: int, side: int = SIDE) -> torch.Tensor:
    m = torch.zeros(b, 8, 1, side, side)
    m[..., y0:y1, x0:x1] = 1.0
    return m


def test_registry_names_and_alias():
    assert list_aliases()["vhmae"] == "vhmae_cpu"  # `vhmae` is the shipped model; Table 1 is `vhmae_base`
    assert isinstance(create_model("vhmae_base", depth=1, decoder_depth=1), VHMAE)
    with pytest.raises(InputError, match="model 'vhmae_tiny' has no option 'widht'"):
        create_model("vhmae_tiny", widht=3)


@pytest.fixture(scope="module")
def base() -> VHMAE:
    torch.manual_seed(0)
    return create_model("vhmae_base").eval()


def test_base_stage_sizes_match_table_1(base):
    """Every row of Table 1, checked on the real model with forward hooks; 25% foreground (4 of 16
    columns)."""
    model = base
    c = model.config
    assert (model.window, model.input_size, c.num_tokens, c.token_pixels) == (8, (256, 256), 1024, 1536)
    seen: dict[str, tuple[int, ...]] = {}

    def hook(name):
        def record(module, args, out) -> None:  # returning None keeps the module's output
            seen[name] = tuple(out.shape)

        return record

    stages = ("patch_embed", "pam", "encoder_proj", "head")
    handles = [getattr(model, n).register_forward_hook(hook(n)) for n in stages]
    handles += [model.encoder[-1].register_forward_hook(hook("encoder"))]
    handles += [model.decoder[-1].register_forward_hook(hook("decoder"))]
    matte = box_matte(1, 0, 256, 0, 64, side=256)  # 4 token columns of 16 -> 256 foreground tokens
    comp = torch.rand(1, 8, 3, 256, 256)
    try:
        with torch.no_grad():
            out = model(comp, matte)
    finally:
        for h in handles:
            h.remove()
    n_fg = 4 * 16 * 4
    assert seen["patch_embed"] == (1, 1024, 768)  # 768 x 4 x 256
    assert seen["pam"] == (n_fg, 384)  # 384 x 4 x N_pm, flattened over the batch
    assert seen["encoder"] == (1, 1024 - n_fg, 768)  # visible tokens only
    assert seen["encoder_proj"] == (1, 1024 - n_fg, 384)
    assert seen["decoder"] == (1, 1024, 384)  # all tokens
    assert seen["head"] == (1, 1024, 1536)  # 3 x 2 x 16 x 16 per token
    assert out.shape == comp.shape
    assert torch.equal(out[..., 64:], comp[..., 64:])  # background untouched
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(95.1e6, rel=0.01)


def test_zero_matte_returns_input_exactly():
    model = tiny()
    comp = torch.rand(2, 8, 3, SIDE, SIDE)
    matte = torch.full((2, 8, 1, SIDE, SIDE), 0.5)  # soft everywhere, never above the threshold
    matte[0] = 0.0
    with torch.no_grad():
        out = model(comp, matte)
    assert torch.equal(out, comp) and out.data_ptr() != comp.data_ptr()


def test_padded_batch_equals_per_sample_loop():
    """Four clips with 0, 4, 48 and 64 (all) foreground tokens of 64, batched vs one at a time."""
    model = tiny()
    comp = torch.rand(4, 8, 3, SIDE, SIDE)
    matte = torch.cat(
        [
            box_matte(1, 0, 0, 0, 0),
            box_matte(1, 20, 28, 20, 28),
            box_matte(1, 0, 48, 0, 64),
            box_matte(1, 0, 64, 0, 64),
        ]
    )
    with torch.no_grad():
        batched = model.reconstruct(comp, matte)
        assert batched.fg.sum(1).tolist() == [0, 4, 48, 64]
        for b in range(4):
            single = model.reconstruct(comp[b : b + 1], matte[b : b + 1])
            torch.testing.assert_close(batched.pred[b : b + 1], single.pred, atol=1e-5, rtol=0)
        out = model(comp, matte)
    assert torch.isfinite(out).all()
    assert torch.equal(out[0], comp[0])


def test_foreground_is_repainted_from_the_background():
    model = tiny()
    comp = torch.rand(1, 8, 3, SIDE, SIDE)
    matte = box_matte(1, 16, 48, 16, 48)
    with torch.no_grad():
        a = model(comp, matte)
        changed = comp.clone()
        changed[..., :8, :] = 1.0 - changed[..., :8, :]  # edit background only (outside the fg tubelets)
        b = model(changed, matte)
    assert not torch.allclose(a[..., 16:48, 16:48], comp[..., 16:48, 16:48])
    assert not torch.allclose(a[..., 16:48, 16:48], b[..., 16:48, 16:48])  # the encoder's context reaches fg
    assert a.min() >= 0 and a.max() <= 1


def test_bad_shapes_are_input_errors():
    model = tiny()
    with pytest.raises(InputError, match=r"comp \[B, 8, 3, 64, 64\]"):
        model(torch.rand(1, 7, 3, SIDE, SIDE), box_matte(1, 0, 1, 0, 1)[:, :7])
    with pytest.raises(InputError, match="matte"):
        model(torch.rand(1, 8, 3, SIDE, SIDE), torch.rand(1, 8, 3, SIDE, SIDE))
    with pytest.raises(InputError, match="multiple"):
        create_model("vhmae_tiny", input_size=60)


def test_gradients_reach_every_parameter():
    model = tiny().train()
    comp = torch.rand(2, 8, 3, SIDE, SIDE)
    matte = torch.cat([box_matte(1, 0, 32, 0, 32), box_matte(1, 0, 64, 0, 16)])
    model.reconstruct(comp, matte).pred.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def table1_flops(n_fg: int, depth: int = 12, decoder_depth: int = 4) -> int:
    """FLOPs (2 x multiply-adds) of Table 1's matrix products with n_fg foreground tokens of 1024, by hand."""
    N, D, Dd, n_vis = 1024, 768, 384, 1024 - n_fg

    def blocks(count: int, L: int, d: int) -> int:  # qkv + proj + 4x MLP = 12 L d^2; QK^T and AV = 2 L^2 d
        return count * 2 * (12 * L * d * d + 2 * L * L * d)

    return (
        2
        * (
            N * 1536 * D  # tubelet embedding (3 x 2 x 16 x 16 -> 768)
            + n_fg * (D * D + D * Dd)  # PAM 768 -> 768 -> 384 on the foreground only
            + n_vis * D * Dd  # encoder projector
            + N * Dd * 1536  # head
        )
        + blocks(depth, n_vis, D)
        + blocks(decoder_depth, N, Dd)
    )


def test_table1_flops_reference_values(record_property):
    """The numbers docs/vhmae.md reports for vhmae_base per window, from the counted formula below."""
    gflops = [round(table1_flops(n) / 1e9, 1) for n in (0, 256, 512)]
    record_property("base_gflops_at_0_25_50_percent_fg", gflops)
    assert gflops == [237.8, 177.7, 122.4]
    config = VHMAEConfig()  # the model's own general formula agrees with the hand-written Table 1 one
    assert all(config.matmul_flops(n) == table1_flops(n) for n in (0, 256, 512, 1024))


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5])
def test_flops_per_window_follow_the_visible_count(fraction):
    """Counted FLOPs of a Table 1-width model (2 encoder, 1 decoder block to stay fast) equal the formula:
    the encoder pays only for the background tokens, PAM only for the foreground ones."""
    torch.manual_seed(0)
    model = create_model("vhmae_base", depth=2, decoder_depth=1).eval()
    matte = box_matte(1, 0, 256, 0, int(256 * fraction), side=256)
    counter = FlopCounterMode(display=False)
    # The flop counter has no formula for the CPU flash kernel; the math backend runs the same products as
    # bmm.
    with counter, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        model.reconstruct(torch.rand(1, 8, 3, 256, 256), matte)
    n_fg = int(1024 * fraction)
    assert (
        counter.get_total_flops()
        == table1_flops(n_fg, depth=2, decoder_depth=1)
        == model.config.matmul_flops(n_fg)
    )


def test_checkpoint_roundtrip_rebuilds_the_same_model(tmp_path):
    from vh.core.checkpoint import load_checkpoint, save_checkpoint

    model = tiny(depth=1)
    save_checkpoint(tmp_path / "ckpt", model, "vhmae_tiny", step=3)
    loaded, meta = load_checkpoint(tmp_path / "ckpt", "cpu")
    assert meta["config"]["input_size"] == SIDE and loaded.config == model.config
    comp, matte = torch.rand(1, 8, 3, SIDE, SIDE), box_matte(1, 8, 40, 8, 40)
    with torch.no_grad():
        assert torch.equal(loaded(comp, matte), model(comp, matte))


def test_color_output_starts_as_the_identity_and_pools_one_transform_per_window():
    torch.manual_seed(0)
    model = create_model("vhmae_tiny", input_size=32, output="color", color_pool="window")
    comp = torch.rand(2, 8, 3, 32, 32)
    matte = torch.zeros(2, 8, 1, 32, 32)
    matte[..., 4:28, 4:28] = 1.0
    assert torch.equal(model(comp, matte), comp)  # zero-initialised head: the untrained model changes nothing
    torch.nn.init.normal_(model.head.weight, std=0.05)
    rec = model.reconstruct(comp, matte)
    # every foreground tubelet carries the same colour map: a pixel value maps to the same output everywhere
    flat = comp.new_full((1, 8, 3, 32, 32), 0.5)
    out = model.reconstruct(flat, matte[:1]).pred
    fg = matte[0, :, 0] > 0.5  # [T, H, W]
    per_channel = torch.stack([out[0, :, c][fg] for c in range(3)])  # [3, P]
    assert float(per_channel.std(1).max()) < 1e-5 and float((per_channel - 0.5).abs().mean()) > 1e-3
    loss = ((rec.pred - comp) ** 2).mean()
    loss.backward()
    assert model.head.weight.grad.abs().sum() > 0


def test_shipped_vhmae_is_the_colour_variant_and_base_stays_table_1():
    from vh.core.models.registry import resolve_name

    assert resolve_name("vhmae") == "vhmae_cpu"
    cfg = create_model("vhmae").config
    assert (cfg.output, cfg.color_pool, cfg.input_size) == ("color", "window", 128)
    base = create_model("vhmae_base").config
    assert (base.output, base.embed_dim, base.depth, base.input_size) == ("pixels", 768, 12, 256)
    with pytest.raises(InputError, match="output="):
        create_model("vhmae_tiny", output="paint")
