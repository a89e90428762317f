import torch

from vh.core.layers.tubelet_embed import TubeletEmbed, patchify, token_mask, unpatchify


def test_patchify_roundtrip_and_token_order():
    video = torch.randn(2, 4, 3, 8, 12)
    tokens = patchify(video, 2, 4)  # grid (2, 2, 3)
    assert tokens.shape == (2, 12, 3 * 2 * 4 * 4)
    torch.testing.assert_close(unpatchify(tokens, (2, 2, 3), 2, 4), video, rtol=0, atol=0)
    # token (t=1, y=0, x=2) -> index (1*2+0)*3+2 = 8; its first value is channel 0, frame 2, pixel (0, 8)
    assert tokens[0, 8, 0] == video[0, 2, 0, 0, 8]


def test_embed_is_a_linear_map_of_patchify():
    torch.manual_seed(0)
    embed = TubeletEmbed(3, 5, 2, 4)
    video = torch.randn(1, 4, 3, 8, 8)
    weight = embed.proj.weight.reshape(5, -1)  # [D, C*t*p*p]
    ref = patchify(video, 2, 4) @ weight.T + embed.proj.bias
    torch.testing.assert_close(embed(video), ref, atol=1e-5, rtol=1e-5)


def test_token_mask_any_pixel_above_threshold():
    matte = torch.zeros(1, 4, 1, 8, 8)
    matte[0, 3, 0, 7, 7] = 0.6  # one pixel in the last tubelet
    matte[0, 0, 0, 0, 0] = 0.5  # not above the threshold
    assert token_mask(matte, 2, 4).tolist() == [[False] * 7 + [True]]
