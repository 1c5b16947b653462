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

PDE validity (the score the learner minimises, and the test of any field):

    graph_residual(equation, graph)     residual of graph points (..., nt, nx, 3), normalised
    validity(field, equation, graph, s) mean log clamped residual after flowing by s, (N,)
"""
from __future__ import annotations

import functools
import math

import sympy
import torch

from . import flows, losses, pdes
from .derivatives import derivatives
from .generators import InnerProduct


def _weighted(V: torch.Tensor, inner: InnerProduct, name: str) -> torch.Tensor:
    """V (n, d, A) -> sqrt(w) V flattened to (n*d, A), in float64."""
    if V.ndim != 3 or V.shape[0] != inner.points.shape[0]:
        raise ValueError(f"{name} must have shape (n, d, A) with n={inner.points.shape[0]} points; "
                         f"got {tuple(V.shape)}")
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


def hierarchical_bootstrap(baseline, treatment, n_boot: int = 2000, level: float = 0.95,
                           seed: int = 0) -> dict:
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
        raise ValueError(f"baseline and treatment must be (seeds, items) arrays of one shape; got "
                         f"{tuple(b.shape)} and {tuple(t.shape)}")
    if bool(torch.isnan(b).any() | torch.isnan(t).any()):
        raise ValueError("baseline and treatment must not contain NaN")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    S, N = b.shape
    g = torch.Generator().manual_seed(seed)
    seeds = torch.randint(S, (n_boot, S, 1), generator=g)
    items = torch.randint(N, (n_boot, S, N), generator=g)
    mb, mt = b[seeds, items].mean((1, 2)), t[seeds, items].mean((1, 2))
    q = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)
    d_lo, d_hi = torch.quantile(mt - mb, q).tolist()
    r_lo, r_hi = torch.quantile(mt / mb, q).tolist()
    m_b, m_t = float(b.mean()), float(t.mean())
    return {"baseline": m_b, "treatment": m_t, "difference": m_t - m_b, "difference_low": d_lo,
            "difference_high": d_hi, "ratio": m_t / m_b if m_b != 0 else math.nan, "ratio_low": r_lo,
            "ratio_high": r_hi, "seeds": S, "items": N}


# ---------------------------------------------------------------------------------------------
# Validity of fields on PDE solutions.

_JET = ("x", "xx", "xxx", "xxxx")


def as_equation(equation) -> pdes.Equation:
    """An Equation from a name or an object with a residual; anything else is a ValueError."""
    if isinstance(equation, str):
        return pdes.get(equation)
    if not callable(getattr(equation, "residual", None)):
        raise ValueError(f"equation must be one of {', '.join(pdes.EQUATIONS)} or an Equation "
                         f"with a registered residual; got {equation!r}")
    return equation


@functools.lru_cache(maxsize=None)
def _orders(equation: pdes.Equation) -> tuple[str, ...]:
    """The x-derivatives that the equation's right-hand side uses (read off symbolically), and t."""
    jet = sympy.symbols("u u_x u_xx u_xxx u_xxxx")
    used = equation.rhs(pdes.t, *jet).free_symbols
    return ("t",) + tuple(o for o, sym in zip(_JET, jet[1:]) if sym in used)


def graph_residual(equation, graph: torch.Tensor, method: str = "curvilinear",
                   row_order: int = 6) -> torch.Tensor:
    """c * (u_t - F(t, u, u_x, ...)) at graph points, shape (..., nt, nx), float64.

    graph (..., nt, nx, 3): points (x, t, u) in the equation's normalised coordinates, rows
    periodic in x (full period). Mapped to physical units, differentiated by
    `symflow.derivatives` in float64, and multiplied by the normalisation constant c: the
    residual in units of the normalised u, so that equations with small |u| (Burgers, cKdV)
    are not all below the validity floor.
    """
    eq = as_equation(equation)
    if graph.ndim < 3 or graph.shape[-1] != 3:
        raise ValueError(f"graph must have shape (..., nt, nx, 3); got {tuple(graph.shape)}")
    x, t, u = eq.denormalise(*graph.to(torch.float64).unbind(-1))
    d = derivatives(x, t, u, eq.L, orders=_orders(eq), method=method, row_order=row_order)
    zero = torch.zeros_like(u)
    jets = [d.get(o, zero) for o in _JET]
    return eq.c * eq.residual(u, d["t"], *jets, t)


def validity(field, equation, graph: torch.Tensor, s, steps: int = 10, times=None,
             floor: float = 1e-4, method: str = "curvilinear", row_order: int = 6,
             adjoint: bool = False) -> torch.Tensor:
    """Validity S_a of each generator of `field`: mean log max(|residual|, floor) of the graphs
    moved by s_a along generator a (read at the fractions `times` of s too, when given).

    field: any field with `per_generator` (learned, or known fields, ideally normalised);
    graph (P, nt, nx, 3) normalised graph patches (full x period); s float or (N,).
    Returns (N,); differentiable in the field's parameters (and in s), through the RK4 steps or,
    with `adjoint`, by the adjoint method (`flows.flow`). Low is valid: the floor gives
    log(1e-4) = -9.21 for an exact solution.
    """
    eq = as_equation(equation)
    moved = flows.transform_graph(field, graph, s, steps, times, adjoint)
    residual = graph_residual(eq, moved, method, row_order)
    axis = residual.ndim - 4                       # the generator axis: (T?, N, P, nt, nx)
    dims = tuple(k for k in range(residual.ndim) if k != axis)
    return losses.residual_validity(residual, floor, dims)
