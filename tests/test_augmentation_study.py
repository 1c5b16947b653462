"""Notebook 03's steps: which equations the study needs, and the closing verdicts on known tables."""

import pandas as pd

from symflow import profiles
from symflow.pde import augmentation_study as study


def test_study_equations_lists_every_needed_equation_once_in_order():
    p = profiles.merge(
        profiles.get("smoke", "pde_augmentation"),
        {
            "equations": ["KdV", "KS"],
            "sweep": {"equation": "KdV"},
            "single_time": {"equations": ["cKdV"]},
            "ckdv": {"sizes": [4]},
            "ablation": {"equation": "KS", "sizes": [4]},
        },
    )
    assert study.study_equations(p) == ["KdV", "KS", "cKdV"]


def _comparison(comparison, difference, low, high, ratio, n=32):
    return {
        "equation": "KdV",
        "n_train": n,
        "metric": "cumulative",
        "comparison": comparison,
        "difference": difference,
        "difference_low": low,
        "difference_high": high,
        "ratio": ratio,
        "ratio_low": ratio - 0.1,
        "ratio_high": ratio + 0.1,
    }


def test_closing_lines_judge_learned_only_where_the_positive_control_passes():
    runs = pd.DataFrame(
        {"equation": "KdV", "augmentation": "none", "n_train": [32, 32, 512, 512], "cumulative": [1.0, 1.0, 0.5, 0.5]}
    )
    p = {"equations": ["KdV"], "sizes": [32, 128]}
    passing = pd.DataFrame(
        [
            _comparison("known - none", -0.4, -0.5, -0.3, 0.6),
            _comparison("learned - none", -0.3, -0.4, -0.2, 0.7),
            _comparison("known - none", -0.1, -0.3, 0.1, 0.9, n=128),
            _comparison("learned - none", -0.3, -0.4, -0.2, 0.7, n=128),
        ]
    )
    lines = study.closing_lines(runs, passing, p)
    assert "50% lower at 512 than at 32 (falls >= 30%)" in lines[0]
    assert "n=32" in lines[1] and "PASSES" in lines[1] and lines[2].startswith("    learned - none")
    assert (
        "n=128" in lines[3] and "undecidable" in lines[3] and len(lines) == 4
    )  # no learned line after a failed control
    # a small effect passes when its whole ratio interval lies below 1 (0.85 [0.75, 0.95])...
    assert study.control_passes(pd.Series(_comparison("known - none", -0.1, -0.2, -0.05, 0.85)))
    # ...and fails when the ratio interval reaches 1, even with the difference's interval below zero
    assert not study.control_passes(pd.Series(_comparison("known - none", -0.1, -0.2, -0.05, 0.95)))


def test_the_positive_control_rule_needs_both_intervals_on_the_side_of_lower_error():
    """`verdicts.control_passes`: the difference's whole interval below 0 and the
    ratio's high end below 1; an interval touching no change fails."""
    from symflow import verdicts

    row = pd.Series(_comparison("known - none", -0.1, -0.2, -0.05, 0.85))
    assert verdicts.control_passes(row)
    assert not verdicts.control_passes(pd.Series({**row, "difference_high": 0.0}))  # the difference reaches 0
    assert not verdicts.control_passes(pd.Series(_comparison("known - none", -0.1, -0.2, -0.05, 0.95)))
    assert not verdicts.control_passes(pd.Series(_comparison("known - none", 0.1, 0.05, 0.2, 1.1)))
