"""Choosing the auto matte's level: best IoU among the levels that leave untouched footage alone."""

from __future__ import annotations

import numpy as np

from vh.training.calibrate_matte import IoU, choose_level


def _score(found_on_composite: float, marks_on_untouched: int, frames: int = 4) -> IoU:
    """One composite clip whose predicted matte covers `found_on_composite` of a 10-row truth, and one
    untouched clip with `marks_on_untouched` of its frames wrongly marked."""
    truth = np.zeros((frames, 10, 10), bool)
    truth[:, :5] = True
    pred = np.zeros_like(truth)
    pred[:, : round(10 * found_on_composite)] = True
    score = IoU()
    score.add_clip(pred, truth)
    untouched = np.zeros_like(truth)
    untouched[:marks_on_untouched, 0, 0] = True
    score.add_clip(untouched, np.zeros_like(truth))
    return score


def test_left_alone_counts_only_frames_with_nothing_to_find():
    score = _score(0.5, marks_on_untouched=1)
    assert score.empty_truth_frames == 4 and score.left_alone == 3
    assert score.summary()["left_alone"] == 0.75


def test_the_best_level_must_leave_untouched_footage_alone():
    scores = {
        0.3: _score(0.5, marks_on_untouched=1),  # the best mean IoU, but marks an untouched frame
        0.5: _score(0.3, marks_on_untouched=0),
        0.7: _score(0.2, marks_on_untouched=0),
    }
    assert scores[0.3].mean > scores[0.5].mean > scores[0.7].mean
    assert choose_level(scores, leave_alone=0.95) == 0.5
    assert choose_level(scores, leave_alone=0.7) == 0.3  # a looser promise lets the best IoU through
    every_level_marks = {0.3: _score(0.5, 2), 0.5: _score(0.3, 1)}
    assert choose_level(every_level_marks, leave_alone=0.95) == 0.5  # none qualifies: the strictest
