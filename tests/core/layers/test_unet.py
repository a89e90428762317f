import pytest
import torch

from vh.core.layers.unet import UNet, UNetConfig


def test_output_shape_matches_input_for_sizes_not_divisible_by_the_depth():
    net = UNet(UNetConfig(in_channels=4, out_channels=3, base_channels=8, depth=3, max_channels=32))
    x = torch.randn(2, 4, 37, 51)  # [B, C, H, W], neither side a multiple of 8
    assert net(x).shape == (2, 3, 37, 51)


def test_tiny_inputs_smaller_than_the_pad_still_work():
    net = UNet(UNetConfig(in_channels=3, out_channels=1, base_channels=4, depth=4, max_channels=16))
    assert net(torch.randn(1, 3, 5, 7)).shape == (1, 1, 5, 7)  # the pad (11, 9) exceeds the size: replicate


def test_channels_double_per_level_up_to_the_cap():
    cfg = UNetConfig(in_channels=3, out_channels=3, base_channels=16, depth=5, max_channels=64)
    assert [cfg.channels(i) for i in range(6)] == [16, 32, 64, 64, 64, 64]
    net = UNet(cfg)
    assert net.downs[-1][0].out_channels == 64 and net.head.in_channels == 16


@pytest.mark.parametrize("activation,lo,hi", [("tanh", -1.0, 1.0), ("sigmoid", 0.0, 1.0)])
def test_output_activation_bounds(activation, lo, hi):
    net = UNet(UNetConfig(3, 3, base_channels=4, depth=2, max_channels=8, activation=activation))
    y = net(torch.randn(1, 3, 16, 16) * 100)
    assert y.min() >= lo and y.max() <= hi


def test_receptive_field_reaches_across_the_frame():
    # D must see context to judge a pixel (paper, Sec. III-B): a change in one corner moves the opposite
    # corner.
    torch.manual_seed(0)
    net = UNet(UNetConfig(3, 1, base_channels=4, depth=4, max_channels=16)).eval()
    x = torch.randn(1, 3, 32, 32)
    y0 = net(x)
    x[..., :4, :4] += 1.0
    assert (net(x) - y0)[..., -1, -1].abs().item() > 0


@pytest.mark.parametrize("norm", ["group", "batch", "instance", "none"])
def test_every_norm_trains(norm):
    net = UNet(UNetConfig(3, 3, base_channels=8, depth=2, max_channels=16, norm=norm))
    x = torch.randn(2, 3, 16, 16)
    loss = (net(x) - x).pow(2).mean()
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="norm"):
        UNetConfig(3, 3, norm="layer")
    with pytest.raises(ValueError, match="activation"):
        UNetConfig(3, 3, activation="relu")
    with pytest.raises(ValueError, match="depth"):
        UNetConfig(3, 3, depth=0)
