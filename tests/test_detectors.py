"""The LieNLSD-style detector (symflow.pde.detectors) recovers the Lie point symmetries of exact data."""

import functools
import math

import pytest
import sympy
import torch

from symflow import generators, metrics
from symflow.pde import detectors, pdes, solvers
from symflow.pde.pdes import t, u, x

# Small exact data: 3 trajectories, 61 saved times; KdV on 512 points (on 256 its stored grid
# aliases modes that make the data's own residual ~1e-4, which hides the scaling).
_SETTINGS = {  # nx, dt, first time, solver step
    "KdV": (512, 0.1, 20.0, 0.01),
    "KS": (128, 0.1, 20.0, None),
    "Burgers": (128, 0.05, None, None),
}


@functools.lru_cache(maxsize=None)
def _data(name: str):
    eq = pdes.get(name)
    nx, dt, t0, step = _SETTINGS[name]
    u0, _ = eq.initial_condition(3, torch.Generator().manual_seed(0), nx)
    times = (eq.t0 if t0 is None else t0) + dt * torch.arange(61, dtype=torch.float64)
    return eq, solvers.solve(eq, u0, times, step=step, oversample=solvers.solver_oversample(eq)), times


def _compare(eq, detection, u_, times):
    """(principal angles in degrees, fraction of each registered field in the detected span, of
    each detected field in the registered span) under the data's inner product."""
    inner = generators.InnerProduct(detectors.data_points(eq, u_, times))
    V = inner.evaluate(detectors.function_field(detection, eq))
    K = inner.evaluate(eq.known_fields(("exact", "broken_by_domain")))
    angles = metrics.principal_angles(V, K, inner) * 180 / math.pi
    return angles, metrics.fraction_in_span(K, V, inner), metrics.fraction_in_span(V, K, inner)


@pytest.mark.parametrize(
    "name, variant, time_derivatives, expected",
    [
        ("KdV", "known", "data", 4),
        ("Burgers", "known", "data", 5),
        ("KS", "known", "data", 3),
        ("KdV", "fitted", "data", 4),
        ("KdV", "known", "equation", 4),
    ],
)
def test_detector_recovers_the_registered_symmetries(name, variant, time_derivatives, expected):
    """The count and the span: exact + broken_by_domain fields (the criterion is local, so it sees
    the scalings and Burgers' projective field that the periodic domain breaks)."""
    eq, u_, times = _data(name)
    det = detectors.detect(eq, u_, times, variant=variant, time_derivatives=time_derivatives)
    assert det.count == expected == len(eq.symmetries_of(("exact", "broken_by_domain")))
    assert det.gap_decades > 4, det.singular_values
    angles, registered_in_detected, detected_in_registered = _compare(eq, det, u_, times)
    assert angles.max() < 0.1, angles
    assert registered_in_detected.min() > 1 - 1e-6 and detected_in_registered.min() > 1 - 1e-6
    assert det.seconds["total"] > 0 and det.n_points == 64 * u_.shape[-1]
    assert sorted(det.trivial) == ["tau*1", "xi*1"]  # d_x and d_t: criterion identically zero


def test_fitted_variant_fits_kdv_and_the_null_basis_is_reduced():
    eq, u_, times = _data("KdV")
    det = detectors.detect(eq, u_, times, variant="fitted")
    u1, u3 = detectors.jet(1), detectors.jet(3)
    assert det.fit["r2"] > 1 - 1e-6
    assert set(det.rhs.free_symbols) == {u, u1, u3}
    coeffs = sympy.Poly(det.rhs, u, u1, u3)
    assert abs(float(coeffs.coeff_monomial(u * u1)) + 1) < 1e-4 and abs(float(coeffs.coeff_monomial(u3)) + 1) < 1e-4
    # reduced row echelon form over the monomials: d_x, x d_x + 3t d_t - 2u d_u, t d_x + d_u, d_t
    expected = [(1, 0, 0), (x, 3 * t, -2 * u), (t, 0, 1), (0, 1, 0)]
    index = {f: j for j, f in enumerate(detectors.monomials(2))}
    for row, field in zip(det.coefficients, expected):
        want = torch.zeros(3, len(index), dtype=torch.float64)
        for c, part in enumerate(field):
            for term, coef in sympy.Poly(part, x, t, u).as_dict().items() if part != 0 else ():
                want[c, index[x ** term[0] * t ** term[1] * u ** term[2]]] = float(coef)
        torch.testing.assert_close(row, want, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["KdV", "KS"])
def test_prolongation_criterion_equals_the_characteristic_form_on_solutions(name):
    """With u_t = F and u_(kx)t = D_x^k F, phi^t - sum_k F_k phi^(k) - xi F_x - tau F_t is
    pdes.symmetry_defect's D_t Q - F'[u] Q, for symmetries and non-symmetries alike."""
    eq = pdes.get(name)
    F = eq.rhs(t, *(detectors.jet(k) for k in range(5)))
    orders = [k for k in range(5) if sympy.diff(F, detectors.jet(k)) != 0]
    on_solutions, G = {}, F
    for a in range(4):
        on_solutions[detectors.jet(a, 1)] = G
        G = detectors.total_derivative(G, "x")
    their_jet = {detectors.jet(k): sympy.Symbol(f"u{k}", real=True) for k in range(11)}
    for sym in eq.symmetries:
        phi_t, phi_k = detectors.prolongation(sym.xi, sym.tau, sym.phi, orders)
        ours = phi_t - sum(sympy.diff(F, detectors.jet(k)) * phi_k[k] for k in orders)
        ours -= sym.xi * sympy.diff(F, x) + sym.tau * sympy.diff(F, t)
        ours = sympy.expand(ours.subs(on_solutions).subs(their_jet))
        assert sympy.simplify(ours - pdes.symmetry_defect(eq, sym)) == 0, sym.name
        assert (ours == 0) == (sym.kind != "control"), sym.name


def test_noise_keeps_no_false_symmetry_and_a_subset_of_a_stored_data_set(tmp_path):
    """Under 1e-3 noise (smoothed) every detected field is a registered symmetry and the
    translations and boost remain; a data set of the solvers, two of its trajectories, works."""
    eq, u_, times = _data("KdV")
    det = detectors.detect(eq, u_, times, noise=1e-3)
    assert det.smoothing and det.kept_modes < u_.shape[-1] // 2 + 1
    assert 3 <= det.count <= 4
    _, _, detected_in_registered = _compare(eq, det, u_, times)
    assert detected_in_registered.min() > 1 - 1e-6
    ds = solvers.dataset("Burgers", "valid", "smoke", root=tmp_path)
    burgers = detectors.detect("Burgers", ds, trajectories=[1, 2], n_rows=16)
    assert burgers.trajectories == [1, 2] and burgers.count == 5
    angles, _, _ = _compare(pdes.get("Burgers"), burgers, ds["u"].values, ds["t"].values)
    assert angles.max() < 0.1


def test_forced_count_library_and_bad_inputs():
    eq, u_, times = _data("Burgers")
    two = detectors.detect(eq, u_, times, count=2)
    assert two.count == 2 and two.fields == [(1, 0, 0), (0, 1, 0)]
    # a library of one's own: the degree-1 monomials hold all but the projective field
    small = detectors.detect(eq, u_, times, library=detectors.monomials(1))
    assert small.count == 4 and len(small.singular_values) == 12
    assert detectors.monomials(2) == [1, x, t, u, x**2, x * t, x * u, t**2, t * u, u**2]
    field = detectors.function_field(small, eq)
    assert field.n_generators == 4 and field(torch.rand(5, 3, dtype=torch.float64)).shape == (5, 3, 4)
    bad = [
        (dict(variant="neural"), "variant"),
        (dict(time_derivatives="spline"), "time_derivatives"),
        (dict(noise=-1.0), "noise"),
        (dict(trajectories=[3]), "trajectories"),
        (dict(n_rows=0), "n_rows"),
        (dict(t_half=40), "saved times"),
    ]
    for kwargs, match in bad:
        with pytest.raises(ValueError, match=match):
            detectors.detect(eq, u_, times, **kwargs)
    with pytest.raises(ValueError, match="uniformly"):
        detectors.detect(eq, u_, times**2)
