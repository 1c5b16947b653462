"""symflow.algebra on fields whose Lie algebra is known exactly."""

import dataclasses

import numpy as np
import pytest
import sympy
import torch

from symflow import algebra, generators
from symflow.generators import FunctionField, InnerProduct
from symflow.pde import pdes


def points(n=400, seed=0):
    z = torch.rand(n, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    z[:, 2] = 2 * z[:, 2] - 1
    return InnerProduct(z)


def mixed(field, M):
    """The fields W_i = sum_a V_a M[a, i]."""
    return FunctionField(lambda z: field(z) @ M, M.shape[1], field.dim)


def test_kdv_constants_match_sympy_and_the_textbook():
    eq, inner = pdes.get("KdV"), points()
    exact = [algebra.symmetry_components(s) for s in eq.symmetries_of(("exact",))]
    C = algebra.exact_structure(exact)
    expected = np.zeros((3, 3, 3))
    expected[1, 2, 0], expected[2, 1, 0] = 1.0, -1.0  # [d_t, t d_x + d_u] = d_x, the rest commute
    assert np.array_equal(C, expected)
    st = algebra.structure(eq.known_fields(), inner)
    assert torch.allclose(st["C"], torch.tensor(expected), atol=1e-8)
    assert float(st["closure"].max()) < 1e-8


def test_burgers_five_dimensional_algebra_with_the_projective_field():
    eq, inner = pdes.get("Burgers"), points()
    kinds = ("exact", "broken_by_domain")
    fields = [algebra.symmetry_components(s) for s in eq.symmetries_of(kinds)]
    C = algebra.exact_structure(fields)  # d_x, d_t, boost, scaling, projective
    assert C is not None
    assert C[1, 4, 3] == 1.0 and np.abs(np.delete(C[1, 4], 3)).max() == 0  # [d_t, projective] = scaling
    assert C[3, 4, 4] == 2.0 and C[0, 3, 0] == 1.0  # [scaling, projective] = 2 projective
    st = algebra.structure(eq.known_fields(kinds=kinds), inner)
    assert torch.allclose(st["C"], torch.tensor(C), atol=1e-8)
    assert float(st["closure"].max()) < 1e-8


def test_constants_transform_with_a_change_of_basis_and_closure_does_not_change():
    eq, inner = pdes.get("KdV"), points()
    K = eq.known_fields()
    M = torch.tensor([[1.0, 0.3, -2.0], [0.5, 1.0, 0.2], [0.1, -0.7, 1.5]], dtype=torch.float64)
    W = mixed(K, M)
    st_K, st_W = algebra.structure(K, inner), algebra.structure(W, inner)
    assert torch.allclose(st_W["C"], algebra.change_basis(st_K["C"], M), atol=1e-8)
    assert torch.allclose(algebra.change_basis(st_W["C"], torch.linalg.inv(M)), st_K["C"], atol=1e-8)
    assert float(st_W["closure"].max()) < 1e-8
    with torch.no_grad():
        found = algebra.basis_change(K(inner.points), W(inner.points), inner)
    assert torch.allclose(found, M, atol=1e-10)


def test_a_pair_that_does_not_close_has_a_large_residual():
    # d_x and x^2 d_x: [d_x, x^2 d_x] = 2x d_x lies outside their span
    f = FunctionField(
        lambda z: torch.stack(
            [torch.stack([torch.ones_like(z[:, 0]), 0 * z[:, 0]], -1), torch.stack([z[:, 0] ** 2, 0 * z[:, 0]], -1)], -1
        ),
        2,
        2,
    )
    inner = InnerProduct(torch.rand(300, 2, dtype=torch.float64) * 2 - 1)
    assert float(algebra.structure(f, inner)["closure"][0, 1]) > 0.3
    x, y = sympy.symbols("x y")
    assert algebra.exact_structure([(1, 0), (x**2, 0)], coords=(x, y)) is None


def test_exact_constants_take_a_readouts_decimal_coefficients_as_printed():
    # a readout prints 0.999 from a 3-digit Float whose binary value is 0.9990234375;
    # [d_t, 0.999 t d_x + d_u] = 0.999 d_x must still close exactly
    t = pdes.t
    boost = (sympy.Float(0.999, 3) * t, 0, 1)
    C = algebra.exact_structure([(1, 0, 0), (0, 1, 0), boost])
    assert C is not None
    assert C[1, 2, 0] == 0.999 and C[2, 1, 0] == -0.999
    assert np.abs(C).sum() == 2 * 0.999


def test_brackets_of_a_network_match_finite_differences_and_respect_periodic_x():
    torch.manual_seed(0)
    field = generators.GeneratorField(3, 2, width=16, head_width=8, periodic=(0,)).double()
    z = points(50).points
    B = algebra.brackets(field, z)
    h = 1e-6
    V = field(z)
    jac = []
    for a in range(2):  # central differences of V_b along V_a
        jac.append((field(z + h * V[..., a]) - field(z - h * V[..., a])) / (2 * h))
    J = torch.stack(jac, dim=2)
    assert torch.allclose(B, J - J.transpose(2, 3), atol=1e-6)
    shifted = z.clone()
    shifted[:, 0] += 1.0  # one period in x: the same brackets
    assert torch.allclose(algebra.brackets(field, shifted), B, atol=1e-10)


def test_readout_of_a_mixed_noisy_kdv_span_gives_the_three_symmetries():
    eq, inner = pdes.get("KdV"), points(800)
    K = eq.known_fields()
    M = torch.tensor([[0.8, 0.3, -0.4], [0.2, 1.0, 0.5], [0.6, -0.7, 0.9]], dtype=torch.float64)
    with torch.no_grad():
        V = mixed(K, M)(inner.points)
    V = (
        V
        + 1e-4 * torch.randn(V.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * V.abs().mean()
    )
    ro = algebra.pde_readout(eq, V, inner)
    t = pdes.t
    want = {(sympy.Integer(1), 0, 0), (0, sympy.Integer(1), 0), (t, 0, sympy.Integer(1))}
    got = {tuple(sympy.nsimplify(c, tolerance=1e-2, rational=True) for c in f) for f in ro["fields"]}
    assert got == {tuple(sympy.sympify(c) for c in f) for f in want}
    assert ro["library_fit"] > 0.999 and sum(ro["kept"]) == 4  # d_x, d_t and t d_x + d_u


FIVE = ("KdV", "KS", "Burgers", "nKdV", "cKdV")


def test_the_readout_library_is_one_list_for_every_equation_and_ignores_their_symmetries():
    x = pdes.x
    # in x / L (the data's period, the only thing the library reads from an equation) the same list
    libraries = {
        name: [str(expr.subs(x, x * pdes.get(name).L)) for _, expr in algebra.pde_library(pdes.get(name))]
        for name in FIVE
    }
    assert all(library == libraries["KdV"] for library in libraries.values())
    assert len(libraries["KdV"]) == 54 and len(set(libraries["KdV"])) == 54
    for name in FIVE:  # an equation without registered symmetries gets the same library
        eq = pdes.get(name)
        assert algebra.pde_library(dataclasses.replace(eq, symmetries=())) == algebra.pde_library(eq)
    functions = [str(f) for f in algebra.time_functions()]
    assert functions[:5] == ["1/(t + 1)", "1/sqrt(t + 1)", "sqrt(t + 1)", "(t + 1)**(3/2)", "log(t + 1)"]
    assert len(functions) == 5 + 2 * len(algebra.EXP_TIME_SCALES)


def exact_span(name, kinds=("exact",), n=400):
    eq, inner = pdes.get(name), points(n)
    with torch.no_grad():
        V = eq.known_fields(kinds=kinds)(inner.points)
    return eq, inner, V


@pytest.mark.parametrize(
    "name, kinds",
    [(name, ("exact",)) for name in FIVE] + [("cKdV", ("exact", "approximate"))],
)
def test_the_readout_of_every_exact_span_is_sparse_and_within_half_a_degree(name, kinds):
    eq, inner, V = exact_span(name, kinds)
    ro = algebra.pde_readout(eq, V, inner)
    readout = [algebra.format_field(f) for f in ro["fields"]]
    assert len(readout) == V.shape[-1] and max(ro["kept"]) <= 2 and ro["library_fit"] > 1 - 1e-9
    # how close it gets, as reported and recomputed from the printed fields
    R = algebra.readout_field(eq, ro["fields"])(inner.points)
    assert ro["span_angle_deg"] < 0.5 and max(algebra.span_angles(R, V, inner)["principal"]) < 0.5
    t = pdes.t
    if name in ("KdV", "KS", "Burgers"):
        assert sorted(readout) == ["d_t", "d_x", "t d_x + d_u"]
    elif name == "nKdV":
        # d_x, exp(-t/50) d_t and the boost as 50 exp(t/50) d_x + d_u = tau d_x + d_u + 50 d_x
        assert sorted(readout) == ["50*exp(t/50) d_x + d_u", "d_x", "exp(-t/50) d_t"]
        boost = next(f for f in ro["fields"] if f[2] != 0)
        assert sympy.simplify(boost[0] - 50 * (sympy.exp(t / 50) - 1)) == 50 and boost[1:] == (0, 1)
    else:
        expected = ["2*sqrt(t + 1) d_x + 1/sqrt(t + 1) d_u", "d_x"] + (["d_t"] if "approximate" in kinds else [])
        assert sorted(readout) == sorted(expected)


def test_a_rate_off_the_librarys_grid_is_read_out_approximately_and_says_how_closely():
    # nKdV's symmetries with T0 = 35 in place of 50 (35 is not on the 1-2-5 grid of exp(+-t/T0))
    eq, inner, t = pdes.get("nKdV"), points(), pdes.t
    fields = [(1, 0, 0), (0, sympy.exp(-t / 35), 0), (35 * (sympy.exp(t / 35) - 1), 0, 1)]
    with torch.no_grad():
        V = algebra.readout_field(eq, fields)(inner.points)
    ro = algebra.pde_readout(eq, V, inner)
    assert "35" not in " ".join(algebra.format_field(f) for f in ro["fields"])
    assert 0.05 < ro["span_angle_deg"] < 1.0  # close, not exact
    R = algebra.readout_field(eq, ro["fields"])(inner.points)
    assert max(algebra.span_angles(R, V, inner)["principal"]) == pytest.approx(ro["span_angle_deg"], rel=1e-3)
    with pytest.raises(ValueError, match="max_terms"):
        algebra.pde_readout(eq, V, inner, max_terms=0)


def test_span_angles_are_zero_for_the_same_span_and_ninety_for_orthogonal_fields():
    eq, inner = pdes.get("KdV"), points()
    with torch.no_grad():
        K = eq.known_fields()(inner.points)
        control = eq.known_fields(kinds=("control",))(inner.points)[..., :1]  # the u-shift d_u
    M = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 3.0]], dtype=torch.float64)
    same = algebra.span_angles(K @ M, K, inner)
    assert max(same["principal"]) < 1e-5 and max(same["W_in_V"]) < 1e-5 and max(same["V_in_W"]) < 1e-5
    dx = K[..., :1]
    assert algebra.span_angles(dx, control, inner)["principal"][0] == pytest.approx(90.0, abs=1e-6)


def test_count_stops_at_the_first_generator_outside_the_bound():
    assert algebra.count_symmetries([-9.0, -8.9, -8.7, -5.0], exact=[-9.1, -8.8], controls=[-4.0, -3.0]) == 3
    assert algebra.count_symmetries([-5.0, -9.0], exact=[-9.1], controls=[-4.0]) == 0
    # the bound is the tighter of worst exact + 0.5 and best control - 2
    assert algebra.count_symmetries([-7.0], exact=[-8.0], controls=[-8.0]) == 0
    # midpoint: closer to the worst symmetry than to the best control
    assert algebra.count_symmetries([-9.2, -8.8, -9.1, -7.5], [-9.21], [-7.62], rule="midpoint") == 3
    with pytest.raises(ValueError, match="rule must be one of bound, midpoint"):
        algebra.count_symmetries([-9.0], [-9.0], [-5.0], rule="gap")


def test_validity_thresholds_of_the_two_rules():
    # bound: the tighter of worst exact + 0.5 (-8.3) and best control - 2 (-6.0)
    assert algebra.validity_threshold([-9.1, -8.8], [-4.0, -3.0]) == pytest.approx(-8.3)
    assert algebra.validity_threshold([-9.0], [-6.0]) == pytest.approx(-8.5)  # control - 2 < exact + 0.5
    assert algebra.validity_threshold([-9.1, -8.8], [-4.0, -3.0], rule="midpoint") == pytest.approx(-6.4)
    with pytest.raises(ValueError, match="needs exact and control validities"):
        algebra.validity_threshold([], [-4.0])


def test_independent_fields_keeps_only_new_directions():
    # columns: e1, e2, e1 + 0.01 e2 (0.57 deg from span{e1}), e3, e1 + e3 (in span{e1, e3})
    inner = generators.InnerProduct(torch.rand(40, 3, dtype=torch.float64))
    e = torch.eye(3, dtype=torch.float64)
    cols = [e[0], e[1], e[0] + 0.01 * e[1], e[2], e[0] + e[2]]
    values = torch.stack(cols, -1).expand(40, 3, 5)
    assert algebra.independent_fields(values, inner, range(5)) == [0, 1, 3]
    assert algebra.independent_fields(values, inner, [2, 0, 4]) == [2, 4]  # e1 lies 0.57 deg from the first
    assert algebra.independent_fields(values, inner, [0, 2], min_angle_deg=0.5) == [0, 2]
    assert algebra.independent_fields(values, inner, []) == []
    with pytest.raises(IndexError, match="candidate 5"):
        algebra.independent_fields(values, inner, [5])
    with pytest.raises(ValueError, match="min_angle_deg"):
        algebra.independent_fields(values, inner, [0], min_angle_deg=0)


def test_bad_input_names_the_parameter():
    K = pdes.get("KdV").known_fields()
    with pytest.raises(ValueError, match="k must be in 1..3"):
        algebra.structure(K, points(), 4)
    with pytest.raises(ValueError, match="z must have shape"):
        algebra.jacobian_products(K, torch.zeros(5, 2, dtype=torch.float64))
