"""Solvers against exact solutions and the PDEs themselves; data files: atomic, reused, never mismatched."""

import dataclasses
import math
import os

import numpy as np
import pytest
import torch
import xarray as xr

import symflow
from symflow.pde import pdes, solvers


def soliton(x, t, c=1.0, x0=30.0):
    """KdV's single soliton u = 3c sech^2(sqrt(c) (x - c t - x0) / 2)."""
    return 3 * c / torch.cosh(math.sqrt(c) * (x - c * t - x0) / 2) ** 2


def test_etdrk4_coefficients_match_direct_formulas_away_from_zero():
    z = torch.tensor([1.5, -3.0, 2j, -4 + 3j, 0.7 - 2.5j], dtype=torch.complex128)
    h = 0.3
    E, E2, Q, f1, f2, f3 = solvers.etdrk4_coefficients(z, h)
    ez = torch.exp(z)
    expected = [
        ez,
        torch.exp(z / 2),
        h * (torch.exp(z / 2) - 1) / z,
        h * (-4 - z + ez * (4 - 3 * z + z**2)) / z**3,
        h * (2 + z + ez * (z - 2)) / z**3,
        h * (-4 - 3 * z - z**2 + ez * (4 - z)) / z**3,
    ]
    for got, want in zip((E, E2, Q, f1, f2, f3), expected):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
    # At z -> 0 the coefficients tend to h/2, h/6, h/6, h/6 (no cancellation in the contour form).
    _, _, Q0, f10, f20, f30 = solvers.etdrk4_coefficients(torch.zeros(1, dtype=torch.complex128), h)
    for got, want in zip((Q0, f10, f20, f30), (h / 2, h / 6, h / 6, h / 6)):
        assert abs(complex(got[0]) - want) < 1e-14


def test_pack_unpack_round_trip_odd_batch():
    u = torch.randn(5, 16, dtype=torch.float64)
    z = solvers.pack(u)
    assert z.shape == (3, 16) and torch.equal(z.imag[-1], torch.zeros(16, dtype=torch.float64))
    assert torch.equal(solvers.unpack(z, 5), u)


@pytest.mark.parametrize("name", ["KdV", "KS", "cKdV"])
def test_packed_pairs_do_not_mix_trajectories(name):
    """Two trajectories share one complex FFT: solving three together equals solving each alone."""
    eq = pdes.get(name)
    u0, _ = eq.initial_condition(3, torch.Generator().manual_seed(1), 64)
    times = eq.kept_times()[:3]
    together = solvers.solve(eq, u0, times, step=0.05)
    alone = torch.cat([solvers.solve(eq, u0[i : i + 1], times, step=0.05) for i in range(3)])
    assert (together - alone).abs().max() <= 1e-10 * alone.abs().max()  # round-off only
    assert together.abs().max() > 0.1


def test_kdv_soliton_to_1e6_at_t10():
    eq = pdes.get("KdV")
    x = eq.grid(512)
    u = solvers.solve(eq, soliton(x, 0.0)[None], [10.0])[0, 0]
    exact = soliton(x, 10.0)
    assert ((u - exact).abs().max() / exact.abs().max()) < 1e-6


def test_nkdv_soliton_travels_in_tau():
    """nKdV is KdV in tau = 50(exp(t/50) - 1): the KdV soliton at tau(t) is an exact nKdV solution."""
    eq = pdes.get("nKdV")
    x = eq.grid(512)
    u = solvers.solve(eq, soliton(x, 0.0)[None], [10.0])[0, 0]
    exact = soliton(x, 50 * (math.exp(10 / 50) - 1))
    assert ((u - exact).abs().max() / exact.abs().max()) < 1e-6


@pytest.mark.parametrize("name", ["KdV", "KS", "nKdV", "cKdV", "Burgers"])
def test_solutions_satisfy_their_equation_and_not_another(name):
    """Residual of a finely saved solution (spectral x, 4th-order t differences) is tiny; the same
    data under another equation of the registry leave a large residual."""
    eq = pdes.get(name)
    u0, _ = eq.initial_condition(2, torch.Generator().manual_seed(0), 256)
    dt = 0.01 if name != "Burgers" else 0.05
    times = 1.0 + dt * torch.arange(11, dtype=torch.float64)
    u = solvers.solve(eq, u0, times)
    scale = solvers.spectral_derivatives(u, eq.L, 1)[1].mul(u).abs().mean()  # size of u u_x
    own = solvers.residual_on_grid(eq, u, times).abs().mean() / scale
    other = pdes.get({"KdV": "cKdV", "KS": "KdV", "nKdV": "KdV", "cKdV": "KdV", "Burgers": "KdV"}[name])
    wrong = solvers.residual_on_grid(other, u, times).abs().mean() / scale
    assert own < 1e-6 and wrong > 1e-3


def test_stored_burgers_data_satisfy_burgers(tmp_path):
    """The data set written to disk satisfies u_t + u u_x = nu u_xx, and only with nu = 0.01."""
    ds = solvers.dataset("Burgers", "valid", "smoke", root=tmp_path)
    with xr.open_dataset(tmp_path / "smoke" / "Burgers_valid.nc", engine="h5netcdf") as stored:
        u = torch.tensor(stored["u"].values)
        times = torch.tensor(stored["t"].values)
        np.testing.assert_array_equal(stored["u"].values, ds["u"].values)
    eq = pdes.get("Burgers")
    np.testing.assert_allclose(stored["x"].values, eq.grid(256).numpy())
    derivs = solvers.spectral_derivatives(u[:, 2:-2], eq.L, 1)
    scale = (derivs[0] * derivs[1]).abs().mean()  # size of u u_x
    res = solvers.residual_on_grid(eq, u, times).abs().mean() / scale
    nu_doubled = dataclasses.replace(eq, rhs=lambda t, u, u1, u2, u3, u4: -u * u1 + 0.02 * u2)
    wrong = solvers.residual_on_grid(nu_doubled, u, times).abs().mean() / scale
    assert res < 1e-4 and wrong > 100 * res, (res, wrong)
    assert abs(float(u.mean())) < 1e-12 and 0.01 < float(u.std()) < 0.2


def test_dataset_written_atomically_reused_and_mismatch_is_an_error(tmp_path, monkeypatch):
    ds = solvers.dataset("Burgers", "test", "smoke", root=tmp_path)
    path = tmp_path / "smoke" / "Burgers_test.nc"
    assert sorted(os.listdir(path.parent)) == ["Burgers_test.nc"]  # no temporary left
    assert ds["u"].dims == ("sample", "t", "x") and ds.attrs["nu"] == 0.01
    for key in ("equation", "L", "T", "nx", "n_kept", "seed", "solver", "step", "generation_wall_time_s"):
        assert key in ds.attrs
    assert ds.attrs["seed"] != solvers.dataset("Burgers", "valid", "smoke", root=tmp_path).attrs["seed"]
    # Reuse: nothing is regenerated (the generator is not called).
    monkeypatch.setattr(solvers, "generate", lambda *a, **k: pytest.fail("regenerated"))
    again = solvers.dataset("Burgers", "test", "smoke", root=tmp_path)
    assert again.attrs["created_utc"] == ds.attrs["created_utc"]
    np.testing.assert_array_equal(again["u"].values, ds["u"].values)
    # A file with other parameters under the same name is an error.
    stale = ds.assign_attrs(nx=128)
    stale.to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ValueError, match="nx: file 128, requested 256"):
        solvers.dataset("Burgers", "test", "smoke", root=tmp_path)


def test_blow_up_names_the_trajectory_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(solvers, "BLOW_UP", 0.05)
    with pytest.raises(solvers.BlowUpError, match=r"Burgers train sample \d+ \(seed 1\).*amplitude=") as err:
        solvers.dataset("Burgers", "train", "smoke", root=tmp_path)
    assert err.value.index >= 0
    assert not (tmp_path / "smoke").exists() or not os.listdir(tmp_path / "smoke")


def test_bad_inputs_are_value_errors():
    kdv, u0 = pdes.get("KdV"), torch.zeros(1, 64, dtype=torch.float64)
    with pytest.raises(ValueError, match="equation must be one of"):
        solvers.dataset("Heat", "train", "smoke")
    with pytest.raises(ValueError, match="split must be one of train, valid, test"):
        solvers.dataset("KdV", "training", "smoke")
    with pytest.raises(ValueError, match="profile must be one of"):
        solvers.dataset("KdV", "train", "huge")
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        solvers.generate(kdv, "train", 0, 64, 1)
    for nx in (63, 8, 64.0):
        with pytest.raises(ValueError, match="nx must be an even integer >= 16"):
            solvers.check_grid(nx)
    with pytest.raises(ValueError, match=r"step must be in \(0, 0.1\] for KdV"):
        solvers.solve(kdv, u0, [1.0], step=0.5)
    with pytest.raises(ValueError, match=r"step must be in \(0, 0.1\]"):
        solvers.solve(kdv, u0, [1.0], step=-0.01)
    with pytest.raises(ValueError, match="times must be a non-empty increasing"):
        solvers.solve(kdv, u0, [2.0, 1.0])
    with pytest.raises(ValueError, match="zero mean"):
        solvers.solve(pdes.get("Burgers"), u0 + 1, [1.0])


# Unit strings a UDUNITS-2 parser accepts for these variables: "1" for nondimensional quantities.
UDUNITS = {"1", "radian"}


def test_data_files_carry_cf_attributes_and_units(tmp_path):
    solvers.dataset("Burgers", "test", "smoke", root=tmp_path)
    with xr.open_dataset(tmp_path / "smoke" / "Burgers_test.nc", engine="h5netcdf") as ds:
        attrs = dict(ds.attrs)
        variables = {name: dict(ds[name].attrs) for name in list(ds.data_vars) + list(ds.coords)}
    assert attrs["Conventions"] == "CF-1.10"
    assert "Burgers" in attrs["title"] and "test" in attrs["title"]
    stamp, _, what = attrs["history"].partition(": ")
    assert stamp == attrs["created_utc"] and stamp.endswith("+00:00")
    assert what.startswith("symflow.pde.solvers.dataset('Burgers', 'test', 'smoke'), run by `python ")
    assert attrs["source"].startswith(f"symflow {symflow.__version__} (commit ") and "Cole-Hopf" in attrs["source"]
    assert "arXiv:2202.07643" in attrs["references"] and "arXiv:2410.21853" in attrs["references"]
    assert set(variables) == {"u", "amplitude", "phase", "wavenumber", "sample", "t", "x"}
    for name, var in variables.items():
        assert var.get("long_name"), name
        assert var.get("units") in UDUNITS, (name, var.get("units"))
    assert variables["phase"]["units"] == "radian" and variables["t"]["axis"] == "T" and variables["x"]["axis"] == "X"


def test_descriptive_attributes_do_not_block_reuse(tmp_path, monkeypatch):
    """A reused file is compared on its request attributes only: another history, title or source
    (a later run, another commit) is not a mismatch."""
    ds = solvers.dataset("Burgers", "valid", "smoke", root=tmp_path)
    path = tmp_path / "smoke" / "Burgers_valid.nc"
    assert set(solvers.DESCRIPTIVE_ATTRIBUTES) <= set(ds.attrs)
    assert not set(solvers.DESCRIPTIVE_ATTRIBUTES) & set(
        solvers.request_attributes(pdes.get("Burgers"), "valid", 4, 256, 2)
    )
    changed = ds.assign_attrs(history="2030-01-01T00:00:00+00:00: edited elsewhere", title="other", source="other")
    changed.to_netcdf(path, engine="h5netcdf")
    monkeypatch.setattr(solvers, "generate", lambda *a, **k: pytest.fail("regenerated"))
    again = solvers.dataset("Burgers", "valid", "smoke", root=tmp_path)
    assert again.attrs["history"].startswith("2030-01-01") and again.attrs["title"] == "other"


def test_command_line_reads_as_typed(monkeypatch):
    monkeypatch.setattr("sys.argv", [solvers.__file__, "--profile", "quick"])
    assert solvers.command_line() == "python -m symflow.pde.solvers --profile quick"
    monkeypatch.setattr("sys.argv", ["/x/pytest/__main__.py", "tests/test_solvers.py"])
    assert solvers.command_line() == "python -m pytest tests/test_solvers.py"
    monkeypatch.setattr("sys.argv", ["bench/bench_solvers.py", "--n", "4"])
    assert solvers.command_line() == "python bench/bench_solvers.py --n 4"


def test_oversampled_solve_is_the_fine_grid_solution_subsampled():
    """oversample m: u0 refined exactly (band-limited), solved on m nx points, every m-th returned;
    the data's request attributes record the solver's grid."""
    eq = pdes.get("KdV")
    u0, _ = eq.initial_condition(2, torch.Generator().manual_seed(0), 128)
    fine0, _ = eq.initial_condition(2, torch.Generator().manual_seed(0), 256)
    torch.testing.assert_close(solvers.refine_grid(u0, 2), fine0, rtol=0, atol=1e-13)
    times = [1.0, 2.0]
    coarse = solvers.solve(eq, u0, times, step=0.05, oversample=2)
    fine = solvers.solve(eq, fine0, times, step=0.05)
    assert coarse.shape == (2, 2, 128)
    torch.testing.assert_close(coarse, fine[..., ::2], rtol=0, atol=1e-12)
    assert solvers.request_attributes(eq, "test", 2, 256, 3)["solver_nx"] == 256 * eq.oversample == 512
    assert solvers.request_attributes(pdes.get("Burgers"), "test", 2, 256, 3)["solver_nx"] == 256
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="oversample must be a positive integer"):
            solvers.solve(eq, u0, times, oversample=bad)
    with pytest.raises(ValueError, match="oversample must be a positive integer"):
        dataclasses.replace(eq, oversample=0)


def test_trajectories_use_the_profile_settings():
    ds = solvers.trajectories("KS", "smoke", 2)
    params = solvers.split_parameters("smoke", "test", pdes.get("KS"))
    assert ds.sizes == {"sample": 2, "t": 140, "x": params["nx"], "mode": 10}
    assert (ds.attrs["seed"], ds.attrs["step"], ds.attrs["n_samples"]) == (params["seed"], params["step"], 2)
