"""Loss terms against known answers."""

import math

import pytest
import torch

from symflow import generators, losses


@pytest.fixture
def inner():
    return generators.InnerProduct(generators.grid_points(16, 16, dtype=torch.float64))


def test_orthonormality_zero_for_orthonormal_fields(inner):
    V = inner.evaluate(generators.normalise(generators.affine_fields(), inner))
    assert losses.orthonormality(V, inner).item() == pytest.approx(0.0, abs=1e-6)


def test_orthonormality_positive_for_overlapping_fields(inner):
    V = inner.evaluate(generators.normalise(generators.affine_fields(), inner))
    mixed = torch.stack([V[..., 0], (V[..., 0] + V[..., 1]) / math.sqrt(2)], dim=-1)
    # <V1, (V1+V2)/sqrt2> = 1/sqrt2: pi/2 - arccos(1/sqrt2) = pi/4
    assert losses.orthonormality(mixed, inner).item() == pytest.approx(math.pi / 4, rel=1e-6)


def test_orthonormality_sends_no_gradient_to_earlier_generators(inner):
    torch.manual_seed(0)
    field = generators.GeneratorField(2, 3, width=16).double()
    V = inner.evaluate(generators.normalise(field, inner))
    V.retain_grad()
    losses.orthonormality(V, inner).backward()
    assert V.grad[..., 0].abs().max() == 0  # the first generator only minimises validity
    assert V.grad[..., 1:].abs().max() > 0


def test_orthonormality_matches_the_arccos_form_and_ignores_scale(inner):
    torch.manual_seed(1)
    field = generators.GeneratorField(2, 4, width=16).double()
    V = inner.evaluate(generators.normalise(field, inner))
    gram = inner.gram(V, V).abs()
    upper = torch.triu(torch.ones_like(gram, dtype=torch.bool), diagonal=1)
    arccos_form = (math.pi / 2 - torch.arccos(gram[upper])).sum()
    assert losses.orthonormality(V, inner).item() == pytest.approx(arccos_form.item(), abs=1e-10)
    scaled = V * torch.tensor([2.0, 0.5, 3.0, 0.1], dtype=V.dtype)
    assert losses.orthonormality(scaled, inner).item() == pytest.approx(arccos_form.item(), abs=1e-10)


def test_orthonormality_pushes_a_collapsed_generator_away(inner):
    # V_2(e) = normalised(V_1 + e W) with W unit and orthogonal to V_1: the angle is atan(e), so
    # the loss atan2(1, e) has slope -1 at e -> 0. The clamped arccos form had slope 0 there, so
    # a generator that collapsed onto an earlier one never left it.
    V = inner.evaluate(generators.normalise(generators.affine_fields(), inner))
    V1, W = V[..., 0], V[..., 1]
    e = torch.tensor(1e-5, dtype=V.dtype, requires_grad=True)
    V2 = (V1 + e * W) / torch.sqrt(1 + e**2)
    loss = losses.orthonormality(torch.stack([V1, V2], dim=-1), inner)
    loss.backward()
    assert loss.item() == pytest.approx(math.pi / 2 - 1e-5, abs=1e-8)
    assert e.grad.item() == pytest.approx(-1.0, abs=1e-6)


def test_span_orthogonality_equals_pairwise_for_two_fields_and_vanishes_for_orthogonal_ones(inner):
    torch.manual_seed(2)
    V = inner.evaluate(generators.GeneratorField(2, 2, width=16).double())
    assert losses.orthonormality(V, inner, "span").item() == pytest.approx(
        losses.orthonormality(V, inner).item(), abs=1e-10
    )
    affine = inner.evaluate(generators.normalise(generators.affine_fields(), inner))
    assert losses.orthonormality(affine, inner, "span").item() == pytest.approx(0.0, abs=1e-6)


def test_span_orthogonality_pushes_a_generator_out_of_the_span_where_pairwise_does_not(inner):
    # V1, V2, W orthonormal; V3(e) = normalised((V1 + V2)/sqrt2 + e W). In the span (e = 0) both
    # forms cost pi/2, but the pairwise angles change only to second order in e (slope 0: the
    # flat spot where a learned generator stayed inside the translations' span), while the span
    # form is atan2(1, e), slope -1.
    V = inner.evaluate(generators.normalise(generators.affine_fields(), inner))
    V1, V2, W = V[..., 0], V[..., 1], V[..., 2]
    slopes = {}
    for mode in losses.ORTHO_MODES:
        e = torch.tensor(1e-5, dtype=V.dtype, requires_grad=True)
        V3 = ((V1 + V2) / math.sqrt(2) + e * W) / torch.sqrt(1 + e**2)
        loss = losses.orthonormality(torch.stack([V1, V2, V3], dim=-1), inner, mode)
        loss.backward()
        assert loss.item() == pytest.approx(math.pi / 2, abs=2e-5)
        slopes[mode] = e.grad.item()
    assert slopes["pairwise"] == pytest.approx(0.0, abs=1e-4)
    assert slopes["span"] == pytest.approx(-1.0, abs=1e-4)


def test_span_orthogonality_is_the_angle_to_the_span(inner):
    # V3 = cos(th) (V1 + V2)/sqrt2 + sin(th) W: its angle to span(V1, V2) is th, so the term is
    # pi/2 - th; V2 is orthogonal to V1 and adds nothing. Earlier fields get no gradient.
    V = inner.evaluate(generators.normalise(generators.affine_fields(), inner))
    th = 0.3
    V3 = math.cos(th) * (V[..., 0] + V[..., 1]) / math.sqrt(2) + math.sin(th) * V[..., 2]
    stacked = torch.stack([V[..., 0], V[..., 1], 2.5 * V3], dim=-1).requires_grad_(True)
    loss = losses.orthonormality(stacked, inner, "span")
    loss.backward()
    assert loss.item() == pytest.approx(math.pi / 2 - th, abs=1e-8)
    assert stacked.grad[..., 0].abs().max() == 0


def test_lipschitz_zero_for_constant_and_positive_for_rough():
    const = torch.ones(8, 8, 2, 3)
    assert losses.lipschitz(const, tau=0.5).item() == 0.0
    rough = torch.zeros(8, 8, 2, 1)
    rough[::2, :, 0, 0] = 1.0  # jumps of 1 between rows
    assert losses.lipschitz(rough, tau=0.5).item() == pytest.approx(0.5)


def test_lipschitz_divides_by_distance():
    x = torch.linspace(0, 1, 11)
    points = torch.stack([x, torch.zeros_like(x)], dim=-1)  # (11, 2)
    slope4 = torch.stack([4 * x, torch.zeros_like(x)], dim=-1)[..., None]  # |dV/dz| = 4
    assert losses.lipschitz(slope4, tau=3.0, points=points).item() == pytest.approx(1.0, rel=1e-5)
    assert losses.lipschitz(slope4, tau=5.0, points=points).item() == 0.0


def test_sobolev_energy_matches_fourier_weights():
    n = 64
    x = torch.arange(n, dtype=torch.float64) / n
    smooth = torch.sin(2 * math.pi * x)[:, None]
    rough = torch.sin(2 * math.pi * 8 * x)[:, None]
    # sin(2 pi m x) has energy 2 * (1/2)^2 * (1 + (2 pi m)^2)^2 = (1 + (2 pi m)^2)^2 / 2
    for m, v in ((1, smooth), (8, rough)):
        expected = math.log((1 + (2 * math.pi * m) ** 2) ** 2 / 2)
        assert losses.sobolev(v, axis=0).item() == pytest.approx(expected, rel=1e-10)


def test_validity_scores():
    h = torch.randn(5, 10)
    assert losses.feature_validity(h, h).item() == pytest.approx(0.0, abs=1e-3)
    assert losses.feature_validity(h, -h).item() == pytest.approx(math.pi, abs=1e-3)
    r = torch.tensor([1e-9, 1e-2, 1.0])
    expected = (math.log(1e-4) + math.log(1e-2) + 0.0) / 3
    assert losses.residual_validity(r).item() == pytest.approx(expected, rel=1e-6)


def test_bad_input_names_parameter(inner):
    with pytest.raises(ValueError, match="V must"):
        losses.orthonormality(torch.zeros(4, 2), inner)
    with pytest.raises(ValueError, match="mode must be one of"):
        losses.orthonormality(torch.zeros(4, 2, 2), inner, mode="gram")
    with pytest.raises(ValueError, match="floor"):
        losses.residual_validity(torch.ones(3), floor=0)
    with pytest.raises(ValueError, match="axis"):
        losses.sobolev(torch.ones(8, 2), axis=1)
    with pytest.raises(ValueError, match="h0 and h1"):
        losses.feature_validity(torch.ones(3, 4), torch.ones(3, 5))
