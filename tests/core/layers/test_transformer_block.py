import torch

from vh.core.layers.transformer_block import Block


def test_block_is_residual_and_padding_aware():
    torch.manual_seed(0)
    block = Block(12, 2, 48).eval()
    x = torch.randn(2, 7, 12)
    valid = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    with torch.no_grad():
        out = block(x, valid)
        alone = block(x[1:, :4])  # the second sequence without its padding
    assert out.shape == (2, 7, 12)
    torch.testing.assert_close(out[1:, :4], alone, atol=1e-5, rtol=1e-5)
    # zeroed output projections make the block the identity: both branches are residual
    for layer in (block.attn.proj, block.mlp.fc2):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    with torch.no_grad():
        assert torch.equal(block(x, valid), x)
