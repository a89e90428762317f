import torch

from vh.core.layers.mlp import Mlp


def test_mlp_widths_and_formula():
    torch.manual_seed(0)
    mlp = Mlp(4, 8, 3)
    x = torch.randn(5, 4)
    ref = torch.nn.functional.gelu(x @ mlp.fc1.weight.T + mlp.fc1.bias) @ mlp.fc2.weight.T + mlp.fc2.bias
    torch.testing.assert_close(mlp(x), ref)
    assert Mlp(6, 12)(torch.randn(2, 3, 6)).shape == (2, 3, 6)  # out defaults to in
