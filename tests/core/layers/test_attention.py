import pytest
import torch

from vh.core.layers.attention import Attention


def test_padded_keys_are_invisible():
    torch.manual_seed(0)
    attn = Attention(24, 3).eval()
    x = torch.randn(1, 5, 24)
    padded = torch.cat([x, torch.randn(1, 3, 24) * 100], dim=1)  # [1, 8, 24], junk after slot 5
    valid = torch.arange(8)[None] < 5
    with torch.no_grad():
        ref = attn(x)
        out = attn(padded, valid)[:, :5]
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_matches_explicit_softmax_attention():
    torch.manual_seed(1)
    attn = Attention(16, 2).eval()
    x = torch.randn(2, 6, 16)
    with torch.no_grad():
        q, k, v = attn.qkv(x).view(2, 6, 3, 2, 8).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(q @ k.transpose(-1, -2) / 8**0.5, dim=-1)  # [B, h, L, L]
        ref = attn.proj((weights @ v).transpose(1, 2).reshape(2, 6, 16))
        torch.testing.assert_close(attn(x), ref, atol=1e-5, rtol=1e-5)


def test_rejects_bad_head_count():
    with pytest.raises(ValueError, match="divisible"):
        Attention(10, 3)
