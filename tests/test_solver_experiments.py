"""Notebook 03's experiment functions: pairing, comparisons, scale choice and bad input."""

import shutil

import pandas as pd
import pytest
import torch

from symflow import generators
from symflow.pde import fno
from symflow.pde import solver_experiments as sx

AUGMENT = {"n_copies": 2, "max_copies": None, "scale": 0.1, "steps": 1, "table": None, "n_points": 512, "seed": 0}
FIT = {"batch": 4, "lr": 3e-3, "max_epochs": 3, "eval_every": 1.0, "patience": 10, "n_valid": 4}
SIZE = {"width": 8, "modes": 4, "layers": 1, "hidden": 8}


def _advected(n, nt=48, nx=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    f = torch.fft.irfft(torch.randn(n, 4, dtype=torch.complex64, generator=g), n=nx)
    return torch.stack([torch.roll(f, j, -1) for j in range(nt)], 1)


def _field(n=3):
    torch.manual_seed(0)
    return generators.GeneratorField(3, n, width=8, head_width=4)


def test_identical_arms_give_identical_errors_and_a_zero_difference():
    """Members of two arms with the same pool and training seed start from the same weights
    and draw the same windows: their errors agree exactly, so the paired difference is 0."""
    u, task = _advected(8, nt=48), fno.bundled(4)
    pool = sx.make_pools(u, None, task, AUGMENT)[0]
    table, errors, model, members = sx.train_and_score(
        {"none": pool, "same": pool}, [0, 1], task, u[:4], u[4:], SIZE, FIT, metrics_=("rollout", "cumulative")
    )
    assert list(zip(table.augmentation, table.seed)) == members == [("none", 0), ("none", 1), ("same", 0), ("same", 1)]
    for s in (0, 1):
        torch.testing.assert_close(errors[("none", s, "rollout")], errors[("same", s, "rollout")])
    assert not torch.equal(errors[("none", 0, "rollout")], errors[("none", 1, "rollout")])
    c = sx.compare(errors, [("none", "same"), ("none", "missing")], [0, 1], "cumulative", n_boot=100)
    assert len(c) == 1 and c.difference[0] == 0 and c.ratio[0] == pytest.approx(1)
    assert sx.verdict(c.iloc[0]) == "no difference"
    with pytest.raises(ValueError, match="metric must be"):
        sx.compare(errors, [("none", "same")], [0, 1], "mse")


def test_compare_detects_a_known_improvement():
    g = torch.Generator().manual_seed(0)
    errors = {}
    for s in (0, 1, 2):
        base = 1 + torch.rand(40, generator=g, dtype=torch.float64)
        errors[("none", s, "rollout")], errors[("known", s, "rollout")] = base, 0.7 * base
    r = sx.compare(errors, [("none", "known")], [0, 1, 2], "rollout", n_boot=200).iloc[0]
    assert r.ratio == pytest.approx(0.7) and r.difference_high < 0 and sx.verdict(r) == "lower"
    assert sx.relative_change(r) == pytest.approx(-30)


def test_choose_scales_takes_the_lowest_mean_validation_error():
    sweep = pd.DataFrame(
        {
            "augmentation": ["known"] * 4 + ["none"],
            "scale": [0.1, 0.1, 0.3, 0.3, None],
            "best_valid": [0.5, 0.7, 0.4, 0.6, 0.1],
        }
    )
    assert sx.choose_scales(sweep) == {"known": 0.3}


def test_learned_fields_cycle_through_the_available_generator_seeds(tmp_path):
    for g in (0, 2):
        generators.save(_field(), tmp_path / f"KdV_seed{g}" / "generators.pt", equation="KdV", nx=256)
    u = _advected(4, nt=48, nx=16) * 0.1
    fields, used = sx.learned_fields("KdV", u, AUGMENT, tmp_path, [0, 1, 2], [0, 1, 2, 3], 3, 256)
    assert used == {0: 0, 1: 2, 2: 0, 3: 2}
    assert fields[0] is fields[2] and fields[0] is not fields[1]
    with pytest.raises(FileNotFoundError, match="KS_seed0"):
        sx.learned_fields("KS", u, AUGMENT, tmp_path, [0], [0], 3, 256)
    shutil.copytree(tmp_path / "KdV_seed0", tmp_path / "KS_seed0")
    with pytest.raises(ValueError, match="holds generators of 'KdV'"):
        sx.learned_field("KS", u, AUGMENT, tmp_path, 0, 3, 256)
    with pytest.raises(ValueError, match="nx=256 grid"):
        sx.learned_field("KdV", u, AUGMENT, tmp_path, 0, 3, 128)


def test_bad_sizes_splits_and_magnitudes_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"sizes must be .* in 1..512"):
        sx.check_sizes([32, 1024], 512, "KdV")
    with pytest.raises(FileNotFoundError, match=r"'valid' split of KdV is missing.*make data PROFILE=quick"):
        sx.load_trajectories("KdV", "valid", "quick", root=tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        sx.load_trajectories("KdV", "validation", "quick", root=tmp_path)
    u, task = _advected(2, nt=48, nx=16) * 0.1, fno.bundled(20)
    field = sx.known_field("KdV", u, AUGMENT)
    with pytest.raises(ValueError, match="scale=5.0: every one of the 4 copies was rejected"):
        sx.make_pools(u, {0: field}, task, AUGMENT, scale=5.0)


def test_errors_dataset_has_labelled_runs():
    errors = {("KdV", 32, "none", 0, "rollout"): torch.ones(3), ("KdV", 32, "known", 0, "rollout"): torch.zeros(3)}
    ds = sx.errors_dataset(errors, pd.DataFrame({"x": [1, 2]}))
    assert ds.nmse.dims == ("run", "trajectory") and set(ds.augmentation.values) == {"none", "known"}
    assert float(ds.nmse.where(ds.augmentation == "none", drop=True).mean()) == 1.0


def test_copies_per_trajectory_respects_the_total_cap():
    assert sx.copies_per_trajectory(32, {"n_copies": 16, "max_copies": 1024}) == 16
    assert sx.copies_per_trajectory(128, {"n_copies": 16, "max_copies": 1024}) == 8
    assert sx.copies_per_trajectory(4096, {"n_copies": 16, "max_copies": 1024}) == 1
    assert sx.copies_per_trajectory(128, {"n_copies": 16, "max_copies": None}) == 16


def test_notebook_overrides_merge_deeply_and_reject_misspelt_keys():
    from symflow import profiles

    p = profiles.resolved("quick", "pde_augmentation", {"fit": {"lr": 1e-3}, "sizes": [32]})
    assert p["fit"]["lr"] == 1e-3 and p["fit"]["batch"] == 16 and p["sizes"] == [32]
    with pytest.raises(ValueError, match=r"overrides\['fit'\]: unknown key 'learning_rate'; valid keys: batch, lr"):
        profiles.resolved("quick", "pde_augmentation", {"fit": {"learning_rate": 1e-3}})
    for profile in profiles.PROFILES:  # every profile's fit entry builds valid FitSettings
        assert sx.fit_settings(profiles.get(profile, "pde_augmentation")["fit"]).batch > 0
