"""The terms of the training objective (the paper's losses and validity scores).

    total = w_sym * sum_a S_a + w_ortho * L_ortho + w_lip * L_lip (+ w_sob * L_sob for PDEs)

Validity scores S_a measure how far transformed data is from valid data:
    feature_validity   images: mean arccos of the cosine similarity of features
    residual_validity  PDEs:   mean log of the clamped PDE residual
Regularisers keep the generators distinct, non-trivial and smooth:
    orthonormality     sum_{a<b} angle between V_b and stopgrad V_a (pi/2 - arccos|cos|), or
                       sum_b angle between V_b and the span of stopgrad V_1..V_{b-1}
    lipschitz          hinge on neighbour differences exceeding tau
    sobolev            log of an H^2-type energy along a periodic axis
"""

from __future__ import annotations

import math

import torch

from .generators import InnerProduct

_ONE = 1.0 - 1e-7  # keeps arccos away from its infinite slope at +-1


def feature_angles(h0: torch.Tensor, h1: torch.Tensor, limit: float = _ONE) -> torch.Tensor:
    """Angles arccos(cos_sim(h0, h1)) in radians, features on the last dim: (..., F) -> (...).

    The cosine is clamped to [-limit, limit]: the default keeps arccos off its infinite slope at
    +-1 (for a loss: its gradient stays finite); limit=1 gives the exact angle (for scoring).
    """
    if h0.shape != h1.shape:
        raise ValueError(f"h0 and h1 must have the same shape; got {tuple(h0.shape)} and {tuple(h1.shape)}")
    cos = torch.nn.functional.cosine_similarity(h0, h1, dim=-1)
    return torch.arccos(cos.clamp(-limit, limit))


def feature_validity(h0: torch.Tensor, h1: torch.Tensor) -> torch.Tensor:
    """The mean of `feature_angles` (default clamp) over all leading dims: (..., F) -> scalar;
    0 when the features are parallel, pi/2 when orthogonal."""
    return feature_angles(h0, h1).mean()


def residual_validity(residual: torch.Tensor, floor: float = 1e-4, dims=None) -> torch.Tensor:
    """mean log(max(|residual|, floor)) over `dims` (all dims when None)."""
    if floor <= 0:
        raise ValueError(f"floor must be positive; got {floor}")
    logs = torch.log(residual.abs().clamp_min(floor))
    return logs.mean() if dims is None else logs.mean(dim=dims)


ORTHO_MODES = ("pairwise", "span")


def orthonormality(V: torch.Tensor, inner: InnerProduct, mode: str = "pairwise") -> torch.Tensor:
    """Sequential orthogonality, `mode` "pairwise" (the paper's) or "span" (`span_orthogonality`).

    pairwise: sum_{a<b} of the angle between V_b and the line of stopgrad(V_a).

    V (n, d, N): generators at the inner product's points (unit norm in the learners, but any
    scale gives the same value). For each pair a < b, with V_a detached,
        c = <V_a, V_b> / |V_a|,   r = V_b - (<V_a, V_b> / |V_a|^2) V_a,   term = atan2(|c|, |r|).
    For unit fields this is pi/2 - arccos|<V_a, V_b>|, but written through the explicit
    residual r its gradient stays finite and non-zero when V_b collapses onto V_a: arccos of a
    clamped cosine has zero gradient there, so a collapsed generator would stay collapsed.
    V_a for a < b enters only detached, so generator b is pushed away from the earlier ones and
    never the other way round. Zero iff the fields are mutually orthogonal.
    """
    if mode not in ORTHO_MODES:
        raise ValueError(f"mode must be one of {ORTHO_MODES}; got {mode!r}")
    if V.ndim != 3:
        raise ValueError(f"V must have shape (n, d, N); got {tuple(V.shape)}")
    if mode == "span":
        return span_orthogonality(V, inner)
    fixed = V.detach()
    gram = inner.gram(fixed, V)  # (N, N): <V_a, V_b>
    sq_norms = gram.detach().diagonal().clamp_min(1e-30)  # |V_a|^2
    a, b = torch.triu_indices(V.shape[-1], V.shape[-1], offset=1, device=V.device)
    coefficient = gram[a, b] / sq_norms[a]  # (P,) projection of V_b on V_a
    residual = V[..., b] - coefficient * fixed[..., a]  # (n, d, P)
    residual_norm = inner.squared_norms(residual).clamp_min(1e-30).sqrt()  # finite gradient at r = 0
    return torch.atan2(gram[a, b].abs() / sq_norms[a].sqrt(), residual_norm).sum()


def span_orthogonality(V: torch.Tensor, inner: InnerProduct) -> torch.Tensor:
    """sum_{b>1} of the angle between V_b and the span of stopgrad(V_1..V_{b-1}).

    V (n, d, N). With P_b the projection onto that span (under `inner`) and r_b = V_b - P_b V_b,
        term_b = atan2(|P_b V_b|, |r_b|),
    pi/2 - the angle between V_b and the span. Same minima as the pairwise form (mutually
    orthogonal fields) and equal to it for N = 2, but not its flat spot: a V_b lying in the span
    of orthogonal earlier fields costs the constant pi/2 under the pairwise form whichever way it
    turns inside the span, and leaving the span changes each pairwise angle only to second order,
    so that form's gradient vanishes there. Here leaving the span lowers term_b at slope -1.
    """
    root = inner.weights.to(V.dtype).sqrt()[:, None, None]
    M = (root * V).flatten(0, 1)  # (n d, N): Euclidean dot = inner
    Q, _ = torch.linalg.qr(M.detach())  # Q[:, :b] spans stopgrad V_1..V_b
    C = torch.triu(Q.T @ M, diagonal=1)  # C[k, b] = <q_k, V_b> for k < b, else 0
    residual = M - Q @ C  # column b: r_b
    along = (C[:, 1:] ** 2).sum(dim=0).clamp_min(1e-30).sqrt()
    return torch.atan2(along, (residual[:, 1:] ** 2).sum(dim=0).clamp_min(1e-30).sqrt()).sum()


def lipschitz(values: torch.Tensor, tau: float, points: torch.Tensor | None = None) -> torch.Tensor:
    """Hinge on the variation of fields between neighbouring grid points.

    values (*grid, d, N): N fields on a grid with len(grid) axes (e.g. (H, W, 2, N) for images).
    points (*grid, d) or None. For each grid axis and neighbour pair (i, j):
        ratio = |V(z_i) - V(z_j)| / |z_i - z_j|   (or |V(z_i) - V(z_j)| when points is None)
    and the loss is sum over generators of the mean of max(ratio - tau, 0).
    Zero for constant fields, and for any field whose neighbour ratio stays below tau.
    """
    grid_dims = values.ndim - 2
    if grid_dims < 1:
        raise ValueError(f"values must have shape (*grid, d, N); got {tuple(values.shape)}")
    if points is not None and points.shape != values.shape[:-1]:
        raise ValueError(f"points must have shape {tuple(values.shape[:-1])}; got {tuple(points.shape)}")
    total = values.new_zeros(())
    for axis in range(grid_dims):
        ratio = values.diff(dim=axis).norm(dim=-2)  # (*grid', N)
        if points is not None:
            ratio = ratio / points.diff(dim=axis).norm(dim=-1).clamp_min(1e-12)[..., None]
        total = total + torch.relu(ratio - tau).flatten(0, -2).mean(dim=0).sum()
    return total


def sobolev(values: torch.Tensor, axis: int, length: float = 1.0) -> torch.Tensor:
    """log of the H^2 energy along a periodic axis, summed over the leading dims' generators.

    values (..., N): samples of N fields, uniform and periodic along `axis` (period `length`).
    E_a = sum_k (1 + k^2)^2 |F[V_a](k)|^2 / n^2 with k = 2 pi m / length the angular wave number;
    returns sum_a log E_a. High-frequency content raises it far more than smooth content.
    """
    if not -values.ndim <= axis < values.ndim or axis % values.ndim == values.ndim - 1:
        raise ValueError(
            f"axis must index one of the first {values.ndim - 1} dims of values "
            f"with shape {tuple(values.shape)}; got {axis}"
        )
    axis = axis % values.ndim
    n = values.shape[axis]
    spectrum = torch.fft.fft(values, dim=axis)
    k = 2 * math.pi * torch.fft.fftfreq(n, d=length / n, device=values.device).to(values.dtype)
    shape = [1] * values.ndim
    shape[axis] = n
    weight = ((1 + k**2) ** 2).reshape(shape)
    energy = (weight * spectrum.abs() ** 2).flatten(0, -2).sum(dim=0) / n**2
    return torch.log(energy).sum()
