"""HDR: a neutral specular highlight inside the matte stays neutral through `vh harmonize` (the transform is
fitted on 0..1 and must not tint what lies beyond it), ordered, and still a highlight against the corrected
foreground."""

from __future__ import annotations

import numpy as np
import pytest

from vh.core.cli.main import main
from vh.core.io import ClipInfo, open_writer, read_image

H, W = 96, 128
LEVELS = (4.0, 16.0, 64.0)


def _frame() -> np.ndarray:
    f = np.zeros((H, W, 4), np.float32)
    f[..., :3] = (0.05, 0.12, 0.35)  # a blue night plate, scene-linear
    yy, xx = np.mgrid[0:H, 0:W]
    fg = (yy >= 16) & (yy < 80) & (xx >= 24) & (xx < 104)
    shade = 0.3 + 0.5 * (xx[fg] - 24) / 80.0
    f[fg, :3] = np.stack([shade * 1.0, shade * 0.55, shade * 0.2], -1)  # a warm, sunlit actor pasted in
    f[fg, 3] = 1.0
    for i, level in enumerate(LEVELS):  # three neutral speculars inside the matte
        f[40:46, 36 + 24 * i : 42 + 24 * i, :3] = level
    return f


@pytest.mark.parametrize("model", ["stats", "histogram"])
def test_neutral_highlights_keep_their_hue(tmp_path, capsys, model):
    like = ClipInfo.make(W, H, 4, 3, first=1, pixel_type="float")
    with open_writer(tmp_path / "p.####.exr", like) as w:
        for _ in range(3):
            w.write(_frame())
    assert (
        main(
            [
                "harmonize",
                str(tmp_path / "p.####.exr"),
                "-o",
                str(tmp_path / "o.####.exr"),
                "--model",
                model,
                "-q",
            ]
        )
        == 0
    ), capsys.readouterr().err
    src, out = read_image(tmp_path / "p.0002.exr"), read_image(tmp_path / "o.0002.exr")
    body = out[20:30, 30:100, :3].reshape(-1, 3).mean(0)
    assert (
        abs(body[0] / body[2] - src[20:30, 30:100, 0].mean() / src[20:30, 30:100, 2].mean()) > 0.2
    )  # corrected
    means = []
    for i, level in enumerate(LEVELS):
        px = out[41:45, 37 + 24 * i : 41 + 24 * i, :3].reshape(
            -1, 3
        )  # the patch's inside, away from its edge
        rgb = px.mean(0)
        assert np.isfinite(px).all()
        assert rgb.max() / rgb.min() < 1.02, f"neutral {level} came out as {rgb}"
        assert rgb.min() > 1.5 * body.max(), f"neutral {level} is no longer a highlight: {rgb} (body {body})"
        means.append(rgb.mean())
    assert means[0] < means[1] < means[2]
