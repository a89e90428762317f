"""The OFX plugin in a real, independent OpenFX host: MLT's `melt` (built from ../shared/third_party) against
a real vh-server, on a ProRes 4444 clip made from real video (a HYouTube-layout composite, its matte as the
alpha).

MLT offers the Filter context only, no temporal clip access (clipGetImage answers the frame being rendered,
whatever time is asked), no clip frame range, no Matte input (the matte is the alpha) and RGBA byte or 16-bit
images. There each frame is its own window, so the reference is `vh harmonize` run on each frame alone, on the
frames melt decodes (written by melt itself, without the effect).

Tolerance: both sides compute in float32 from the same 8-bit samples and round once to 8 bits, so they may
differ by one 8-bit step where a value lands on a rounding boundary: max <= 1/255, mean <= 1e-3 (measured: 0
and 0)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from vh.core.io import read_image

pytestmark = pytest.mark.realdata

FILTER = "openfx.org.vh.VHMAEHarmonize"
FRAMES = 6
RACE_TRIES = 6  # melt runs per render that may lose the consumer's start race (see run_melt)
WIDTH, HEIGHT = 320, 176
CLIP = "camel-0"
ONE_STEP = 1.0 / 255.0


def make_prores_4444(data: Path, path: Path) -> None:
    """FRAMES frames of a real composite (HYouTube layout) with its foreground matte as alpha, ProRes 4444."""
    import av
    import cv2

    root = data / "hyoutube_val"
    comps = sorted((root / "synthetic_composite_videos" / CLIP / "object_0").glob("*.jpg"))[:FRAMES]
    mattes = sorted((root / "foreground_mask" / CLIP / "object_0").glob("*.png"))[:FRAMES]
    assert len(comps) == len(mattes) == FRAMES
    with av.open(str(path), "w") as out:
        stream = out.add_stream("prores_ks", rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuva444p10le"
        stream.options = {"profile": "4"}  # 4444
        for comp, matte in zip(comps, mattes):
            rgb = cv2.resize(
                cv2.cvtColor(cv2.imread(str(comp)), cv2.COLOR_BGR2RGB),
                (WIDTH, HEIGHT),
                interpolation=cv2.INTER_AREA,
            )
            alpha = cv2.resize(
                cv2.imread(str(matte), cv2.IMREAD_GRAYSCALE), (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA
            )
            rgba = np.dstack([rgb, alpha]).astype(np.uint16) * 257
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgba, format="rgba64le")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.fixture(scope="module")
def clip(tmp_path_factory, shared_data):
    folder = tmp_path_factory.mktemp("melt")
    path = folder / "clip.mov"
    make_prores_4444(shared_data, path)
    profile = folder / "profile"  # the clip's own size and rate, so that melt does not scale
    profile.write_text(
        f"description=vh test\nframe_rate_num=25\nframe_rate_den=1\nwidth={WIDTH}\nheight={HEIGHT}\n"
        "progressive=1\nsample_aspect_num=1\nsample_aspect_den=1\ndisplay_aspect_num=20\n"
        "display_aspect_den=11\ncolorspace=709\n"
    )
    return path, profile


def run_melt(melt, bundle: Path, clip, out: Path, *filter_args: str) -> subprocess.CompletedProcess:
    """Render `clip` through melt (with the effect when filter_args are given) into out/f_0001.png ... (RGBA,
    8 bits, written as melt hands them over: mlt_image_format=rgba keeps the consumer from touching alpha).

    MLT's avformat consumer starts its thread before it marks itself running; under load the thread can see
    "not running" and end before writing anything. If its exit clears the flag before the start sets it, melt
    waits forever; if after, melt exits 0 at once. A run that ends either way having written no frame at all
    is that race, not the effect, and is tried again (RACE_TRIES runs in all); a run that wrote anything, or
    failed, is returned (or raised) as it is."""
    path, profile = clip
    out.mkdir(parents=True, exist_ok=True)
    command = [str(melt.executable), "-silent", "-profile", str(profile), str(path)]
    if filter_args:
        command += ["-filter", FILTER, *filter_args]
    command += [
        "-consumer",
        f"avformat:{out}/f_%04d.png",
        "vcodec=png",
        "pix_fmt=rgba",
        "mlt_image_format=rgba",
    ]
    for attempt in range(1, RACE_TRIES + 1):
        try:
            result = subprocess.run(
                command,
                env=melt.env(bundle.parent),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=90,
            )
        except subprocess.TimeoutExpired:
            if any(out.glob("f_*.png")) or attempt == RACE_TRIES:
                raise
            continue
        if result.returncode != 0 or any(out.glob("f_*.png")) or attempt == RACE_TRIES:
            break
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def frames(folder: Path) -> list[np.ndarray]:
    files = sorted(folder.glob("f_*.png"))
    assert len(files) == FRAMES, files
    return [read_image(f) for f in files]


def test_melt_lists_the_effect(melt, ofx_bundle):
    result = subprocess.run(
        [str(melt.executable), "-query", "filters"],
        env=melt.env(ofx_bundle.parent),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "openfx.org.vh.VHMAEHarmonize" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]


def test_melt_render_matches_vh_harmonize_frame_by_frame(melt, ofx_bundle, clip, vh_server, tmp_path):
    from vh.core.cli.main import main as vh

    colorspace = "colorspace=sRGB - Texture"  # melt's pixels are display-referred video; as `vh` reads PNG
    run_melt(melt, ofx_bundle, clip, tmp_path / "plate")
    run_melt(
        melt,
        ofx_bundle,
        clip,
        tmp_path / "zero",
        f"serverAddress={vh_server}",
        "model=stats",
        colorspace,
        "strength=0",
    )
    run_melt(
        melt, ofx_bundle, clip, tmp_path / "melt", f"serverAddress={vh_server}", "model=stats", colorspace
    )
    plate, zero, got = frames(tmp_path / "plate"), frames(tmp_path / "zero"), frames(tmp_path / "melt")
    # The effect sees exactly the frames melt decodes: at strength 0 it hands them back bit for bit.
    for t in range(FRAMES):
        np.testing.assert_array_equal(zero[t], plate[t], err_msg=f"frame {t + 1}")

    # No temporal access in melt: every frame is its own window, so `vh harmonize` runs on each frame alone.
    pattern = str(tmp_path / "plate" / "f_%04d.png")
    (tmp_path / "vh").mkdir()
    for t in range(1, FRAMES + 1):
        assert (
            vh(
                [
                    "harmonize",
                    pattern,
                    "--frames",
                    f"{t}-{t}",
                    "--model",
                    "stats",
                    "--colorspace",
                    "sRGB - Texture",
                    "-q",
                    "-o",
                    str(tmp_path / "vh" / "f_%04d.png"),
                ]
            )
            == 0
        )
    want = frames(tmp_path / "vh")
    diffs = np.stack([np.abs(g - w) for g, w in zip(got, want)])
    print(f"melt vs vh harmonize over {FRAMES} frames: max {diffs.max():.6f}, mean {diffs.mean():.3e}")
    assert diffs.max() <= ONE_STEP + 1e-6
    assert diffs.mean() <= 1e-3
    for t in range(FRAMES):
        fg = plate[t][..., 3] > 0.5
        assert fg.mean() > 0.05
        assert np.abs(got[t][fg, :3] - plate[t][fg, :3]).mean() > 0.02, "the foreground was not repainted"
        np.testing.assert_array_equal(got[t][..., 3], plate[t][..., 3])  # alpha passes through
        np.testing.assert_array_equal(got[t][plate[t][..., 3] == 0], plate[t][plate[t][..., 3] == 0])


def test_melt_with_a_dead_server_logs_one_line_and_passes_the_plate_through(melt, ofx_bundle, clip, tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    run_melt(melt, ofx_bundle, clip, tmp_path / "plate")
    result = run_melt(melt, ofx_bundle, clip, tmp_path / "dead", f"serverAddress={address}", "model=stats")
    errors = [line for line in result.stderr.splitlines() if "OfxMessageError" in line]
    assert len(errors) >= FRAMES, result.stderr[
        -3000:
    ]  # at least one per frame (melt may render a frame twice)
    assert all(address in line and "not reachable" in line for line in errors), errors[0]
    for got, plate in zip(frames(tmp_path / "dead"), frames(tmp_path / "plate")):
        np.testing.assert_array_equal(got, plate)  # not black: the plate, untouched
