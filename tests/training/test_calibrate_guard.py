"""Fitting the guard on calib clips: each window's corrections computed once, the rule puts the promise
first."""

from __future__ import annotations

import pytest
import torch

from vh.core.checkpoint import save_checkpoint
from vh.core.cli.main import main as vh_main
from vh.core.models.registry import create_model
from vh.training.calibrate_guard import Candidate, calibrate, choose, main


def _candidate(floor, worse, ratios, direction=-1.0):
    return Candidate(floor=floor, caution=1.0, direction=direction, fmse={}, ratios=ratios, worse=worse)


def test_a_clip_made_worse_costs_more_than_a_better_average_gains():
    loose = _candidate(0.0, worse=2, ratios=[0.2, 0.3, 1.2, 1.1])  # the best average, but two clips worse
    middle = _candidate(0.01, worse=0, ratios=[0.4, 0.5, 0.99, 0.98])
    strict = _candidate(0.04, worse=0, ratios=[0.8, 0.9, 0.999, 0.999])
    assert choose([loose, middle, strict]) is middle


def test_doing_nothing_does_not_win_by_making_nothing_worse():
    nothing = _candidate(1e6, worse=0, ratios=[1.0] * 10)  # the composite, unchanged
    useful = _candidate(0.0031, worse=1, ratios=[0.3] * 9 + [1.1])
    assert useful.cost == pytest.approx(0.38 + 0.1)
    assert choose([nothing, useful]) is useful


def test_among_equal_results_the_direction_check_that_stops_least_wins():
    # a check that never fires leaves every clip as it was: equal scores, so the gentlest one is kept
    stricter = _candidate(0.01, worse=0, ratios=[0.4, 0.9], direction=0.5)
    gentler = _candidate(0.01, worse=0, ratios=[0.4, 0.9], direction=0.15)
    assert choose([stricter, gentler]) is gentler


def _tiny_ensemble(path):
    torch.manual_seed(0)
    model = create_model("vhmae_ens", count=2)
    with torch.no_grad():  # the colour head starts at zero (the identity): give the members corrections
        for k, member in enumerate(model.members):
            for p in member.parameters():
                p.add_(0.05 * (k + 1) * torch.randn_like(p))
    save_checkpoint(path, model, "vhmae_ens", step=1)
    return path


def test_calibration_runs_the_network_once_per_window_and_a_huge_floor_leaves_the_composite(
    tmp_path, pairs_dir, capsys, monkeypatch
):
    data = tmp_path / "calib"
    assert (
        vh_main(
            [
                "make-dataset",
                str(data),
                "--pairs",
                str(pairs_dir),
                "--clips",
                "2",
                "--frames",
                "8",
                "--size",
                "64",
                "--split",
                "test",
                "--recolor",
                "grade",
            ]
        )
        == 0
    )
    ckpt = _tiny_ensemble(tmp_path / "ens")
    calls = []
    forward = type(create_model("vhmae_cpu")).forward

    def counting(self, comp, matte):
        calls.append(1)
        return forward(self, comp, matte)

    monkeypatch.setattr(type(create_model("vhmae_cpu")), "forward", counting)
    candidates = calibrate(str(ckpt), [data], floors=(0.0, 1e6), cautions=(1.0,), directions=(-1.0,))
    once = len(calls)
    assert once > 0
    # six candidates, the same windows
    calibrate(str(ckpt), [data], floors=(0.0, 1e3, 1e6), cautions=(1.0, 4.0), directions=(-1.0,))
    assert len(calls) == 2 * once
    free, clamped = candidates
    assert free.ratios != clamped.ratios
    assert all(abs(r - 1.0) < 0.02 for r in clamped.ratios)  # s ~ 0: the composite, up to 8-bit rounding

    capsys.readouterr()
    assert main([str(ckpt), "--data", str(data), "--floors", "0", "1e6", "--cautions", "1"]) == 0
    out = capsys.readouterr().out
    assert "chosen: floor" in out and "--set guard_floor=" in out
    assert main([str(ckpt), "--data", str(tmp_path / "missing")]) == 2
    assert "vh: error:" in capsys.readouterr().err


def test_a_negative_candidate_is_refused_before_any_model_loads(tmp_path, capsys):
    missing = str(tmp_path / "no_checkpoint")
    assert main([missing, "--data", str(tmp_path), "--floors", "-0.01"]) == 2
    assert "caution and floor >= 0" in capsys.readouterr().err
