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


def _stored_folder(tmp_path, monkeypatch, p, seeds=(0, 1), known_scale="0.1", commit="abc123"):
    """A notebook-03 results folder with none and known runs of KdV at 4 trajectories, made from the
    same settings p, commit `commit` and the data files below (fake bytes: fingerprints only)."""
    import json

    import torch

    from symflow import io
    from symflow.pde import solver_experiments as sx
    from symflow.pde import solvers

    for split in ("train", "valid", "test"):
        (tmp_path / f"KdV_{split}.nc").write_bytes(split.encode())
    monkeypatch.setattr(solvers, "data_path", lambda eq, split, profile, root=None: tmp_path / f"{eq}_{split}.nc")
    monkeypatch.setattr(io, "git_commit", lambda *a: "abc123")
    folder = tmp_path / "03"
    folder.mkdir()
    errors, rows = {}, []
    for arm in ("none", "known"):
        for seed in seeds:
            for k, metric in enumerate(sx.METRICS):
                e = torch.arange(3, dtype=torch.float64) + 10 * seed + k + (arm == "known")
                errors[("KdV", 4, arm, seed, metric)] = e
                scale = None if arm == "none" else known_scale
                rows.append(
                    {
                        "equation": "KdV",
                        "n_train": 4,
                        "augmentation": arm,
                        "seed": seed,
                        "scale": scale,
                        "steps_trained": 9,
                        "best_step": 7,
                        "metric": metric,
                        "nmse": float(e.mean()),
                    }
                )
    pd.DataFrame(rows).to_csv(folder / "nmse.csv", index=False)
    io.write_netcdf(sx.errors_dataset(errors, pd.DataFrame(rows)), folder / "errors_per_trajectory.nc")
    data = io.fingerprints(tmp_path / f"KdV_{s}.nc" for s in ("train", "valid", "test"))
    prov = {"profile": "smoke", "settings": p, "git_commit": commit, "inputs": data}
    (folder / "provenance.json").write_text(json.dumps(prov))
    return folder, errors


def test_stored_arms_reuses_notebook_03s_runs_only_of_the_same_settings_commit_data_and_scale(tmp_path, monkeypatch):
    import torch

    p = profiles.get("smoke", "pde_augmentation")
    p = profiles.merge(p, {"augment": {"scale": 0.1}, "seeds": [0, 1]})
    folder, errors = _stored_folder(tmp_path, monkeypatch, p)
    lines = []
    runs, got = study.stored_arms(folder, "KdV", 4, [0, 1], p, "smoke", log=lines.append)
    assert set(runs.augmentation) == {"none", "known"} and len(runs) == 4
    assert set(got) == {(a, s, m) for (_, _, a, s, m) in errors}
    assert all(torch.equal(got[(a, s, m)], errors[("KdV", 4, a, s, m)]) for (a, s, m) in got)
    assert "reusing notebook 03's runs" in lines[-1]
    # a missing seed, another size, other settings or profile: not reused
    assert study.stored_arms(folder, "KdV", 4, [0, 1, 2], p, "smoke", log=lines.append) is None
    assert study.stored_arms(folder, "KdV", 8, [0, 1], p, "smoke", log=lines.append) is None
    other = profiles.merge(p, {"fit": {"lr": 0.5}})
    assert study.stored_arms(folder, "KdV", 4, [0, 1], other, "smoke", log=lines.append) is None
    assert "other settings (fit)" in lines[-1]
    assert study.stored_arms(folder, "KdV", 4, [0, 1], p, "quick", log=lines.append) is None
    # other data bytes, or uncommitted code now
    (tmp_path / "KdV_test.nc").write_bytes(b"changed")
    assert study.stored_arms(folder, "KdV", 4, [0, 1], p, "smoke", log=lines.append) is None
    assert "other data" in lines[-1]


def test_stored_arms_refuses_another_commit_or_scale(tmp_path, monkeypatch):
    p = profiles.merge(profiles.get("smoke", "pde_augmentation"), {"augment": {"scale": 0.1}, "seeds": [0, 1]})
    folder, _ = _stored_folder(tmp_path, monkeypatch, p, commit="an older commit")
    lines = []
    assert study.stored_arms(folder, "KdV", 4, [0, 1], p, "smoke", log=lines.append) is None
    assert "commit" in lines[-1]
    (tmp_path / "b").mkdir()
    folder, _ = _stored_folder(tmp_path / "b", monkeypatch, p, known_scale="0.5/0.1/0.1")
    assert study.stored_arms(folder, "KdV", 4, [0, 1], p, "smoke", log=lines.append) is None
    assert "scale" in lines[-1]
