"""The equation registry: sympy proofs of the known symmetries, coordinate maps, a numerical boost test."""

import math

import pytest
import sympy
import torch

from symflow.pde import pdes, solvers

CASES = [(eq, s) for eq in pdes.EQUATIONS.values() for s in eq.symmetries]


def test_registry_names_and_unknown_name():
    assert list(pdes.EQUATIONS) == ["KdV", "KS", "Burgers", "nKdV", "cKdV"]
    with pytest.raises(ValueError, match="KdV, KS, Burgers, nKdV, cKdV"):
        pdes.get("Heat")


@pytest.mark.parametrize(
    "eq,sym", [c for c in CASES if c[1].kind in ("exact", "broken_by_domain")], ids=lambda v: getattr(v, "name", None)
)
def test_registered_symmetry_satisfies_linearised_condition(eq, sym):
    assert pdes.symmetry_defect(eq, sym) == 0


@pytest.mark.parametrize(
    "eq,sym", [c for c in CASES if c[1].kind in ("control", "approximate")], ids=lambda v: getattr(v, "name", None)
)
def test_controls_and_approximate_symmetries_fail_the_condition(eq, sym):
    assert pdes.symmetry_defect(eq, sym) != 0


def test_named_non_symmetries():
    """u d_u is a symmetry of the heat equation, not of Burgers; d_t is not one of cKdV."""
    burgers, ckdv = pdes.get("Burgers"), pdes.get("cKdV")
    assert pdes.symmetry_defect(burgers, pdes.Symmetry("u d_u", 0, 0, pdes.u, "control")) != 0
    d_t = pdes.symmetry_defect(ckdv, pdes.Symmetry("d_t", 0, 1, 0, "control"))
    # ... but only approximately not: the defect decays like 1/t^2.
    u0 = sympy.Symbol("u0", real=True)
    assert sympy.simplify(d_t + u0 / (2 * (pdes.t + 1) ** 2)) == 0
    # Every equation lists the three controls, and kinds are validated.
    for eq in pdes.EQUATIONS.values():
        names = {s.name for s in eq.symmetries_of(("control",))}
        assert {"u-shift d_u", "u-scaling u d_u", "shear t d_x"} <= names
    with pytest.raises(ValueError, match="kind must be one of"):
        pdes.Symmetry("bad", 0, 0, 0, "sometimes")
    with pytest.raises(ValueError, match="kinds must be drawn from"):
        pdes.get("KdV").symmetries_of(["exact", "nearly"])


@pytest.mark.parametrize("name", list(pdes.EQUATIONS))
def test_normalisation_maps_kept_grid_to_unit_square(name):
    eq = pdes.get(name)
    x, t = eq.grid(256), eq.kept_times()
    xn, tn, un = eq.normalise(x, t, torch.tensor(2.0, dtype=torch.float64))
    torch.testing.assert_close(xn, torch.arange(256, dtype=torch.float64) / 256)
    torch.testing.assert_close(tn, torch.arange(eq.n_kept, dtype=torch.float64) / eq.n_kept)
    assert float(un) == pytest.approx(2 * eq.c)
    back = eq.denormalise(xn, tn, un)
    for a, b in zip(back, (x, t, torch.tensor(2.0, dtype=torch.float64))):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", list(pdes.EQUATIONS))
def test_normalised_field_is_the_pushforward(name):
    """V_n(normalise(z)) = d/ds normalise(z + s V(z)) (the map is affine, so a difference is exact)."""
    eq = pdes.get(name)
    g = torch.Generator().manual_seed(0)
    z = torch.rand(50, 3, generator=g, dtype=torch.float64)
    phys = eq.denormalise(z[:, 0], z[:, 1], z[:, 2])
    for sym in eq.symmetries:
        V = torch.stack([pdes._torch_function(e)(*phys) for e in (sym.xi, sym.tau, sym.phi)], -1)
        moved = eq.normalise(*(p + 1e-3 * V[:, i] for i, p in enumerate(phys)))
        expected = (torch.stack(moved, -1) - z) / 1e-3
        torch.testing.assert_close(eq.normalised_field(sym)(z), expected, rtol=1e-8, atol=1e-10)
    fields = eq.known_fields(("exact", "control"))
    chosen = eq.symmetries_of(("exact", "control"))
    assert fields(z).shape == (50, 3, len(chosen)) and fields.names == [s.name for s in chosen]
    torch.testing.assert_close(fields(z)[..., 0], eq.normalised_field(chosen[0])(z))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        eq.normalised_field(eq.symmetries[0])(z[:, :2])


def test_initial_condition_distribution_and_bad_sizes():
    eq = pdes.get("KdV")
    u0, p = eq.initial_condition(3, torch.Generator().manual_seed(0), 64)
    x = eq.grid(64)
    expected = (
        p["amplitude"][..., None]
        * torch.sin(2 * math.pi * p["wavenumber"][..., None] * x / eq.L + p["phase"][..., None])
    ).sum(1)
    torch.testing.assert_close(u0, expected)
    assert p["amplitude"].abs().max() <= 0.5 and set(p["wavenumber"].unique().tolist()) <= {1.0, 2.0}
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="n must be a positive integer"):
            eq.initial_condition(bad, torch.Generator(), 64)
    with pytest.raises(ValueError, match="nx must be a positive integer"):
        eq.initial_condition(2, torch.Generator(), 0)


def test_galilean_boost_keeps_kdv_residual_but_u_scaling_raises_it():
    """A KdV solution boosted by the exact finite Galilean map u(x - e t, t) + e stays a solution."""
    eq = pdes.get("KdV")
    u0, _ = eq.initial_condition(2, torch.Generator().manual_seed(3), 256)
    times = torch.linspace(5.0, 5.2, 21, dtype=torch.float64)
    u = solvers.solve(eq, u0, times)
    eps = 0.3
    k = solvers.wavenumbers(256, eq.L)
    shift = torch.exp(-1j * k * eps * times[:, None])  # u(x - eps t): Fourier shift
    boosted = torch.fft.irfft(torch.fft.rfft(u) * shift, n=256) + eps
    scaled = (1 + eps) * u
    level = [solvers.residual_on_grid(eq, w, times).abs().mean().item() for w in (u, boosted, scaled)]
    assert level[0] < 1e-8
    assert level[1] < 2 * level[0]
    assert level[2] > 1e4 * level[0]
