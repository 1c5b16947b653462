"""The validity headroom: accurate KdV data leave a gap >= 2, inaccurate data are flagged with advice."""

import dataclasses
import math
import re
import warnings

import pytest
import torch

from symflow import profiles
from symflow.pde import headroom, pdes, solvers

# notebook 02's judge at quick, on fewer patches (the data here are a few trajectories)
EVALUATE = {**headroom.settings("quick"), "n_patches": 3, "n_points": 2048}


@pytest.fixture(scope="module")
def kdv():
    return solvers.trajectories("KdV", "quick", 3)


def test_accurate_kdv_data_pass_without_warning(kdv):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = headroom.headroom("KdV", kdv, evaluate=EVALUATE)
    row = table.iloc[0]
    assert list(table.columns) == [
        "equation",
        "patches",
        "rows",
        "s",
        "floor",
        "worst_patch_floor",
        "worst_symmetry",
        "best_control",
        "best_control_validity",
        "gap",
        "margin",
        "passes",
        "re_solve_error",
        "advice",
    ]
    assert row.equation == "KdV" and row.patches == 3 and row.rows == "60-79" and row.s == 0.1
    assert row.gap >= 2 and row.passes and row.advice == "" and math.isnan(row.re_solve_error)
    assert math.log(1e-4) <= row.floor < row.best_control_validity
    assert row.best_control in [s.name for s in pdes.get("KdV").symmetries_of(("control",))]
    assert row.worst_symmetry < row.best_control_validity - 2  # the exact symmetries stay near the floor


def test_noisy_kdv_data_warn_and_blame_the_data(kdv):
    noisy = kdv.copy(deep=True)
    u = noisy["u"].values
    u += 1e-3 * torch.randn(u.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64).numpy()
    with pytest.warns(UserWarning, match=r"KdV: the data leave a validity gap of .* less than 2") as record:
        row = headroom.headroom("KdV", noisy, evaluate=EVALUATE).iloc[0]
    assert not row.passes and row.gap < 2
    assert row.re_solve_error > headroom.ACCURATE  # noisy rows are not solutions
    assert "smaller step" in row.advice and "oversample" in row.advice
    assert row.advice in str(record[0].message)


def test_frames_too_far_apart_are_named(kdv):
    """Accurate trajectories saved 8 times further apart: the re-solve agrees, so the advice
    names the saved frames (the time derivative between them)."""
    coarse = kdv.isel(t=slice(0, None, 8))
    evaluate = {**EVALUATE, "first_row": 0, "rows": 16}
    with pytest.warns(UserWarning, match="Save more frames"):
        row = headroom.headroom("KdV", coarse, evaluate=evaluate, s=0.1).iloc[0]
    assert not row.passes and row.re_solve_error <= headroom.ACCURATE
    # the advice measures its remedy: twice the frames of the equation (KdV's own spacing) pass
    measured = float(re.search(r"the gap measured on \d+ new trajectories is (-?[\d.]+)", row.advice).group(1))
    assert measured >= 2


def test_accurate_but_nearly_invariant_data_ask_for_amplitude():
    """Data at the clamp whose controls barely move the residual: KdV with a 5 times smaller
    amplitude is nearly linear, and the controls break only its small nonlinear term."""
    eq = dataclasses.replace(pdes.get("KdV"), name="KdV small", amplitude=0.1)
    small = solvers.generate(eq, "test", 3, 256, 3, 0.1)
    with pytest.warns(UserWarning, match="Raise the initial amplitude"):
        row = headroom.headroom(eq, small, evaluate=EVALUATE, s=0.1).iloc[0]
    assert math.isfinite(row.gap) and row.gap < 2
    measured = float(re.search(r"the gap measured on \d+ new trajectories is (-?[\d.]+)", row.advice).group(1))
    assert measured > row.gap  # twice the amplitude widens the gap
    assert row.floor <= math.log(1e-4) + 0.25 and math.isnan(row.re_solve_error)


def test_table_covers_the_registry_with_user_equations(monkeypatch):
    """headroom_table defaults to every registered equation, one added with pdes.register included
    (its test data here: one trajectory of each, solved with the smoke settings)."""
    extra = dataclasses.replace(pdes.get("KdV"), name="KdV copy")
    monkeypatch.setitem(pdes.EQUATIONS._equations, extra.name, extra)
    asked = []

    def small_dataset(name, split, profile, device="cpu", root=None):
        asked.append((name, split, profile))
        return solvers.trajectories(name, profile, 1, split)

    monkeypatch.setattr(solvers, "dataset", small_dataset)
    table = headroom.headroom_table("smoke")
    assert list(table.equation) == list(pdes.names()) and "KdV copy" in list(table.equation)
    assert asked == [(name, "test", "smoke") for name in pdes.names()]
    smoke = profiles.get("smoke", "pde_symmetries")["evaluate"]
    assert (table.patches == smoke["n_patches"]).all()


def test_dataset_reports_headroom_on_request(tmp_path):
    ds = solvers.dataset("KdV", "test", "smoke", root=tmp_path, headroom=True)
    assert {"validity_floor", "validity_best_control", "validity_gap"} <= set(ds.attrs)
    assert ds.attrs["validity_gap"] == pytest.approx(ds.attrs["validity_best_control"] - ds.attrs["validity_floor"])
    assert "validity_gap" not in solvers.dataset("KdV", "test", "smoke", root=tmp_path).attrs  # not stored


def test_bad_settings_are_value_errors(kdv):
    with pytest.raises(ValueError, match="must select at least 7 of the data's 140 time rows"):
        headroom.headroom("KdV", kdv, evaluate={**EVALUATE, "first_row": 130})
    no_controls = dataclasses.replace(pdes.get("KdV"), symmetries=pdes.get("KdV").symmetries_of(("exact",)))
    with pytest.raises(ValueError, match="has no control field"):
        headroom.headroom(no_controls, kdv, evaluate=EVALUATE)
