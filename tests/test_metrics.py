"""Comparisons between spans of fields: known answers and independence of basis and order."""

import math

import pytest
import torch

from symflow import metrics
from symflow.generators import InnerProduct

torch.manual_seed(0)
POINTS = torch.rand(400, 3, dtype=torch.float64)
INNER = InnerProduct(POINTS)


def fields(*columns):
    """Stack callables of z (n, 3) -> (n, 3) into values (n, 3, len(columns))."""
    return torch.stack([c(POINTS) for c in columns], dim=-1)


def e(k):
    return lambda z: torch.nn.functional.one_hot(torch.full((z.shape[0],), k), 3).to(z.dtype)


def t_dx(z):
    return torch.stack([z[:, 1], 0 * z[:, 1], 0 * z[:, 1]], -1)


def test_cosine_matrix_of_coordinate_fields_is_identity():
    V = fields(e(0), e(1), e(2))
    torch.testing.assert_close(metrics.cosine_matrix(V, 2 * V, INNER), torch.eye(3, dtype=torch.float64))


def test_fraction_in_span_known_values():
    """d_x + d_u has half its squared norm along d_x: fraction 1/sqrt 2 in span{d_x}."""
    V = fields(e(0))
    W = fields(lambda z: e(0)(z) + e(2)(z), e(1), e(0))
    torch.testing.assert_close(
        metrics.fraction_in_span(W, V, INNER), torch.tensor([1 / math.sqrt(2), 0.0, 1.0], dtype=torch.float64)
    )


def test_span_measures_ignore_basis_order_and_scale():
    V = fields(e(0), t_dx, lambda z: z.sin())
    W = fields(e(2), lambda z: z**2, t_dx)
    mix = torch.randn(3, 3, dtype=torch.float64) + 3 * torch.eye(3, dtype=torch.float64)
    V2 = (V @ mix)[..., [2, 0, 1]]
    f1, f2 = metrics.fraction_in_span(W, V, INNER), metrics.fraction_in_span(W, V2, INNER)
    torch.testing.assert_close(f1, f2)
    torch.testing.assert_close(metrics.fraction_in_span(5 * W, V, INNER), f1)
    a1 = metrics.principal_angles(V, W, INNER)
    a2 = metrics.principal_angles(W[..., [1, 2, 0]] @ mix, V2, INNER)
    torch.testing.assert_close(a1, a2)
    assert a1[0] < 1e-6  # t_dx is in both spans


def test_principal_angles_known_values():
    """span{d_x} vs span{cos(th) d_x + sin(th) d_t}: one angle th."""
    th = 0.3
    V = fields(e(0))
    W = fields(lambda z: math.cos(th) * e(0)(z) + math.sin(th) * e(1)(z))
    torch.testing.assert_close(metrics.principal_angles(V, W, INNER), torch.tensor([th], dtype=torch.float64))


def test_dependent_columns_are_dropped():
    V = fields(e(0), e(0), e(1))
    assert metrics.principal_angles(V, fields(e(0), e(1)), INNER).shape == (2,)
    torch.testing.assert_close(metrics.fraction_in_span(fields(e(1)), V, INNER), torch.ones(1, dtype=torch.float64))


def test_bad_shape():
    with pytest.raises(ValueError, match="V must have shape"):
        metrics.fraction_in_span(fields(e(0)), torch.zeros(10, 3, 2), INNER)


# --- paired hierarchical bootstrap (notebooks 03 and 05) ---
def test_hierarchical_bootstrap_known_shift_and_ratio():
    """treatment = 0.8 * baseline exactly: ratio 0.8 with a zero-width interval, difference
    -0.2 * mean, and the interval of the difference excludes 0."""
    g = torch.Generator().manual_seed(0)
    base = 1 + torch.rand(3, 50, generator=g, dtype=torch.float64)
    out = metrics.hierarchical_bootstrap(base, 0.8 * base, n_boot=500)
    assert out["ratio"] == pytest.approx(0.8) and out["ratio_low"] == pytest.approx(0.8)
    assert out["ratio_high"] == pytest.approx(0.8)
    assert out["difference"] == pytest.approx(-0.2 * float(base.mean()))
    assert out["difference_high"] < 0 and (out["seeds"], out["items"]) == (3, 50)


def test_hierarchical_bootstrap_seed_variation_widens_the_interval():
    """A seed effect that differs between methods (seed 0 helps, seed 1 hurts) is seed noise:
    the two-level interval of the difference contains 0; resampling items only would not."""
    g = torch.Generator().manual_seed(1)
    base = torch.rand(4, 200, generator=g, dtype=torch.float64)
    shift = torch.tensor([-0.3, 0.3, -0.25, 0.35], dtype=torch.float64)[:, None]
    out = metrics.hierarchical_bootstrap(base, base + shift, n_boot=2000)
    assert out["difference_low"] < 0 < out["difference_high"]
    assert out["difference"] == pytest.approx(float(shift.mean()))


def test_hierarchical_bootstrap_rejects_bad_input():
    with pytest.raises(ValueError, match="one shape"):
        metrics.hierarchical_bootstrap(torch.ones(2, 3), torch.ones(3, 2))
    with pytest.raises(ValueError, match="NaN"):
        metrics.hierarchical_bootstrap(torch.ones(2, 3), torch.full((2, 3), float("nan")))
    with pytest.raises(ValueError, match="level"):
        metrics.hierarchical_bootstrap(torch.ones(2, 3), torch.ones(2, 3), level=1.5)


def test_hierarchical_bootstrap_mean_draws_as_the_paired_bootstrap():
    """The interval of one arm's mean uses the paired bootstrap's draws: against a baseline of zeros,
    the difference interval is that of the mean."""
    torch.manual_seed(4)
    values = torch.rand(3, 20, dtype=torch.float64) + torch.arange(3, dtype=torch.float64)[:, None]
    one = metrics.hierarchical_bootstrap_mean(values, n_boot=400, seed=7)
    paired = metrics.hierarchical_bootstrap(torch.zeros_like(values), values, n_boot=400, seed=7)
    assert one["mean"] == pytest.approx(float(values.mean()))
    assert (one["low"], one["high"]) == pytest.approx((paired["difference_low"], paired["difference_high"]), abs=1e-12)
    assert one["low"] < one["mean"] < one["high"] and (one["seeds"], one["items"]) == (3, 20)
    with pytest.raises(ValueError):
        metrics.hierarchical_bootstrap_mean(torch.ones(5))
