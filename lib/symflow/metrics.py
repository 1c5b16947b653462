"""Comparing learned generators with known ones, independently of basis and order.

All comparisons use an inner product over data points (generators.InnerProduct): fields are
given by their values V (n, d, A) at the inner product's points, in the learner's normalised
coordinates. With sqrt-weighted, flattened values M_V = sqrt(w) V  (n*d, A), <V_a, W_b> is
(M_V^T M_W)_ab, and

    cosine_matrix(V, W)      <V_a, W_b> / (|V_a| |W_b|)           the paper's heat map, (A, B)
    fraction_in_span(W, V)   |P_V W_b| / |W_b|, P_V the orthogonal projection onto span V, (B,)
    principal_angles(V, W)   arccos of the singular values of Q_V^T Q_W, ascending, (min(A, B),)

The last two depend on the spans only: any invertible recombination or reordering of the
columns of V (or of W, for the angles) leaves them unchanged. The unexplained part of W_b
is 1 - fraction^2.

Comparing two methods over training seeds and test items:

    bootstrap_ci(values)                        mean and percentile interval, (n,) values
    hierarchical_bootstrap(baseline, treatment) paired difference and ratio of (seeds, items)
                                                scores, intervals resampling seeds, then items
    hierarchical_bootstrap_mean(values)         one method's mean of (seeds, items) scores with the
                                                interval of the same draws
"""

from __future__ import annotations

import math

import torch

from .generators import InnerProduct


def _weighted(V: torch.Tensor, inner: InnerProduct, name: str) -> torch.Tensor:
    """V (n, d, A) -> sqrt(w) V flattened to (n*d, A), in float64."""
    if V.ndim != 3 or V.shape[0] != inner.points.shape[0]:
        raise ValueError(
            f"{name} must have shape (n, d, A) with n={inner.points.shape[0]} points; got {tuple(V.shape)}"
        )
    w = inner.weights.to(torch.float64).sqrt()
    return (w[:, None, None] * V.detach().to(torch.float64)).reshape(-1, V.shape[-1])


def _orthonormal_basis(M: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:
    """Orthonormal columns spanning the columns of M (numerically dependent ones dropped)."""
    U, S, _ = torch.linalg.svd(M, full_matrices=False)
    return U[:, S > rtol * S.max().clamp_min(1e-300)]


def cosine_matrix(V: torch.Tensor, W: torch.Tensor, inner: InnerProduct) -> torch.Tensor:
    """(A, B) matrix of <V_a, W_b> / (|V_a| |W_b|) for V (n, d, A), W (n, d, B)."""
    MV, MW = _weighted(V, inner, "V"), _weighted(W, inner, "W")
    return (MV.T @ MW) / (MV.norm(dim=0)[:, None] * MW.norm(dim=0)[None, :]).clamp_min(1e-300)


def fraction_in_span(W: torch.Tensor, V: torch.Tensor, inner: InnerProduct) -> torch.Tensor:
    """(B,) fraction |P_V W_b| / |W_b| of each field W_b's norm inside span{V_1..V_A}."""
    Q, MW = _orthonormal_basis(_weighted(V, inner, "V")), _weighted(W, inner, "W")
    return (Q.T @ MW).norm(dim=0) / MW.norm(dim=0).clamp_min(1e-300)


def principal_angles(V: torch.Tensor, W: torch.Tensor, inner: InnerProduct) -> torch.Tensor:
    """Principal angles (radians, ascending) between span V and span W."""
    QV, QW = (_orthonormal_basis(_weighted(A, inner, n)) for A, n in ((V, "V"), (W, "W")))
    cos = torch.linalg.svdvals(QV.T @ QW).clamp(-1.0, 1.0)
    return torch.arccos(cos).sort().values


# --- Bootstrap confidence intervals (added for notebook 03's NMSE tables) ---
def bootstrap_ci(values, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Mean of `values` (n,) and its percentile bootstrap interval: (mean, low, high).

    Resamples the n values (e.g. one NMSE per test trajectory) with replacement n_boot times;
    the interval holds the central `level` fraction of the resampled means. NaNs are dropped.
    """
    v = torch.as_tensor(values, dtype=torch.float64).flatten()
    v = v[~torch.isnan(v)]
    if v.numel() == 0:
        raise ValueError("values must contain at least one number (all were NaN or none given)")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    g = torch.Generator().manual_seed(seed)
    means = v[torch.randint(v.numel(), (n_boot, v.numel()), generator=g)].mean(1)
    tail = (1 - level) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1 - tail], dtype=torch.float64)).tolist()
    return float(v.mean()), low, high


def hierarchical_bootstrap_mean(values, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """The grand mean of one method's (S, N) scores (rows: training seeds, columns: test items) with
    the percentile interval of the same two-level bootstrap as `hierarchical_bootstrap` (S seeds with
    replacement, then N items with replacement within each drawn seed; the same draws for the same
    `seed`, S and N). Returns {"mean", "low", "high", "seeds", "items"}; ValueError as there."""
    v = torch.as_tensor(values, dtype=torch.float64)
    if v.ndim != 2 or v.numel() == 0:
        raise ValueError(f"values must be a non-empty (seeds, items) array; got {tuple(v.shape)}")
    if bool(torch.isnan(v).any()):
        raise ValueError("values must not contain NaN")
    S, N = v.shape
    seeds, items, q = _two_level_draws(S, N, n_boot, level, seed)
    low, high = torch.quantile(v[seeds, items].mean((1, 2)), q).tolist()
    return {"mean": float(v.mean()), "low": low, "high": high, "seeds": S, "items": N}


def _two_level_draws(S: int, N: int, n_boot: int, level: float, seed: int):
    """The draws of the two-level bootstrap: (seeds (n_boot, S, 1), items (n_boot, S, N), the two
    quantile levels of the central `level` interval). ValueError for a level outside (0, 1)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    g = torch.Generator().manual_seed(seed)
    seeds = torch.randint(S, (n_boot, S, 1), generator=g)
    items = torch.randint(N, (n_boot, S, N), generator=g)
    return seeds, items, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)


def hierarchical_bootstrap(baseline, treatment, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """Paired comparison of two methods scored on the same training seeds and test items.

    baseline, treatment: (S, N) arrays; row s is training seed s (paired: the same seed index in
    both), column i is test item i (a test trajectory's NMSE, or 0/1 for a test image's
    correctness). The compared quantities are the grand means m_b, m_t over all S*N values:

        difference = m_t - m_b        ratio = m_t / m_b

    The interval is a two-level percentile bootstrap: draw S seeds with replacement, then for
    each drawn seed N test items with replacement, the same draws for both methods (paired), and
    recompute both quantities; the interval holds the central `level` fraction of n_boot draws.
    Seed-to-seed variation (including the variation of anything else indexed by the seed, such
    as which learned generators a run used) and test-set variation are therefore both inside it.

    Returns {"baseline", "treatment", "difference", "difference_low", "difference_high",
    "ratio", "ratio_low", "ratio_high", "seeds", "items"}. Raises ValueError for arrays of
    different or non-2-D shape, NaN values, or a level outside (0, 1).
    """
    b = torch.as_tensor(baseline, dtype=torch.float64)
    t = torch.as_tensor(treatment, dtype=torch.float64)
    if b.ndim != 2 or b.shape != t.shape or b.numel() == 0:
        raise ValueError(
            f"baseline and treatment must be (seeds, items) arrays of one shape; got "
            f"{tuple(b.shape)} and {tuple(t.shape)}"
        )
    if bool(torch.isnan(b).any() | torch.isnan(t).any()):
        raise ValueError("baseline and treatment must not contain NaN")
    S, N = b.shape
    seeds, items, q = _two_level_draws(S, N, n_boot, level, seed)
    mb, mt = b[seeds, items].mean((1, 2)), t[seeds, items].mean((1, 2))
    d_lo, d_hi = torch.quantile(mt - mb, q).tolist()
    r_lo, r_hi = torch.quantile(mt / mb, q).tolist()
    m_b, m_t = float(b.mean()), float(t.mean())
    return {
        "baseline": m_b,
        "treatment": m_t,
        "difference": m_t - m_b,
        "difference_low": d_lo,
        "difference_high": d_hi,
        "ratio": m_t / m_b if m_b != 0 else math.nan,
        "ratio_low": r_lo,
        "ratio_high": r_hi,
        "seeds": S,
        "items": N,
    }
