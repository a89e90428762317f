import pytest
import torch

from vh.core.layers.pos_embed import sincos_1d, sincos_3d


def test_1d_code_values():
    code = sincos_1d(4, torch.tensor([0.0, 1.0]))  # omega = [1, 1/100]
    s, c = torch.sin, torch.cos
    one, hundredth = torch.tensor(1.0), torch.tensor(0.01)
    expected = torch.tensor([[0.0, 0.0, 1.0, 1.0], [s(one), s(hundredth), c(one), c(hundredth)]])
    torch.testing.assert_close(code.float(), expected.float())


def test_3d_code_layout_and_uniqueness():
    grid = (4, 3, 5)
    pe = sincos_3d(12, grid)
    assert pe.shape == (60, 12) and pe.dtype == torch.float32
    # token (t, y, x) sits at (t * 3 + y) * 5 + x; its first third codes t only
    t1 = pe.view(4, 3, 5, 12)[1, :, :, :4]
    assert torch.allclose(t1, t1[0, 0].expand_as(t1))
    assert torch.cdist(pe, pe).add(torch.eye(60) * 9).min() > 1e-3  # every position distinct


def test_width_must_split_in_three_even_parts():
    with pytest.raises(ValueError, match="divisible by 6"):
        sincos_3d(16, (1, 1, 1))
