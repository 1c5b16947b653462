"""Derivatives of a solution known at irregular points that keep a grid's neighbour structure.

A transformed PDE solution is a set of graph points (x_ij, t_ij, u_ij): row i was time row i,
column j was grid column j. The points are no longer on a grid, but neighbours in (i, j) are
still neighbours in (x, t). Every array here has shape (..., nt, nx); x is periodic along the
last axis with period `period`: x_{i, j + nx} = x_ij + period, while t and u are nx-periodic in j.

Two estimators of u_x, u_t, u_xx, u_xxx, u_xxxx:

    "curvilinear"  the chain rule on the curvilinear grid (i, j) -> (x, t). With index
                   derivatives f_j (spectral: the row is periodic) and f_i (finite differences
                   of order `row_order` along t, one-sided near the ends), and the Jacobian
                   of the point map,
                       f_x = (f_j t_i - f_i t_j) / det,   f_t = (f_i x_j - f_j x_i) / det,
                       det = x_j t_i - x_i t_j;
                   higher derivatives apply the same operator again (u_xx = D_x u_x, ...).
                   Needs a point map that is smooth in (i, j) (a flow of a smooth field is).
    "weno"         the paper's approach: least-squares fits of a total-degree-5 polynomial in
                   (x - x_0, t - t_0) on several small stencils (6 rows x 7 columns) around each
                   point, read off the derivatives of each fit, and average the stencils with
                   WENO-style weights gamma / (eps + beta_s)^2, beta_s the stencil's mean squared
                   fit residual (a stencil across a kink fits badly and gets little weight).
                   Purely local, so it also copes with rough (jittered) point maps.

`derivatives(x, t, u, period)` returns a dict {"x": u_x, "t": u_t, "xx": ..., ...}.
The curvilinear estimator with 6th-order row differences is the default, chosen by measurement:
on smoothly moved grids (tests/test_derivatives.py) its observed orders are 6, 6, 5, 4, 3 for
u_x, u_t, u_xx, u_xxx, u_xxxx (4th-order rows: 4, 4, 3, 2, 2; local fits: 5, 5, 4, 3, 2) with
errors 10-50x below the local fits' at 40 x 128 points; on the unmoved PDE data its mean log
residual is -8.0 (KdV), -9.2 (KS, at the floor) against -6.2 and -4.1 for the local fits; and
a quick-profile training iteration costs about 1/120 of theirs (`make bench-iterations`). The local
fits remain the choice for rough (jittered) point maps.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import torch

ORDERS = ("x", "t", "xx", "xxx", "xxxx")
METHODS = ("curvilinear", "weno")

# The local least-squares fits: total degree 5, stencils of 6 rows x 7 columns.
_DEGREE, _ROWS, _COLS = 5, 6, 7
_EXPONENTS = [(p, q) for total in range(_DEGREE + 1) for q in range(total + 1) for p in [total - q]]
_WANTED = {"x": (1, 0), "t": (0, 1), "xx": (2, 0), "xxx": (3, 0), "xxxx": (4, 0)}


def derivatives(
    x: torch.Tensor,
    t: torch.Tensor,
    u: torch.Tensor,
    period: float,
    orders=ORDERS,
    method: str = "curvilinear",
    row_order: int = 6,
) -> dict[str, torch.Tensor]:
    """Derivatives of u at the points (x, t), all of shape (..., nt, nx).

    orders: any of "x", "t", "xx", "xxx", "xxxx". Returns {order: tensor (..., nt, nx)}.
    row_order: order of the finite differences along the rows (curvilinear method; even, >= 2).
    Differentiable in x, t and u (autograd), so it can sit inside a training loss.
    """
    _check(x, t, u, period, orders, method, row_order)
    if method == "curvilinear":
        return _curvilinear(x, t, u, period, orders, row_order)
    return _weno(x, t, u, period, orders)


def _check(x, t, u, period, orders, method, row_order) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if not isinstance(row_order, int) or row_order < 2 or row_order % 2:
        raise ValueError(f"row_order must be an even integer >= 2; got {row_order!r}")
    bad = [o for o in orders if o not in ORDERS]
    if bad:
        raise ValueError(f"orders must be drawn from {ORDERS}; got {bad}")
    if not (x.shape == t.shape == u.shape) or x.ndim < 2:
        raise ValueError(
            f"x, t, u must share one shape (..., nt, nx); got {tuple(x.shape)}, {tuple(t.shape)}, {tuple(u.shape)}"
        )
    if not period > 0:
        raise ValueError(f"period must be positive; got {period!r}")
    need_rows, need_cols = (row_order + 1, 4) if method == "curvilinear" else (_ROWS, _COLS + 2)
    if x.shape[-2] < need_rows or x.shape[-1] < need_cols:
        raise ValueError(
            f"the {method} method needs nt >= {need_rows} rows and nx >= {need_cols} "
            f"columns; got (nt, nx) = {tuple(x.shape[-2:])}"
        )


# ---------------------------------------------------------------------------------------------
# Chain rule on the curvilinear grid.


def periodic_derivative(f: torch.Tensor, length: float | None = None, order: int = 1) -> torch.Tensor:
    """d^order f / dx^order along the last axis of samples f (..., n) of a periodic function on
    [0, length) (default length n: derivatives per grid index), spectrally (FFT). For odd orders
    the Nyquist mode is dropped (its derivative is not real)."""
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be a positive integer; got {order!r}")
    n = f.shape[-1]
    k = torch.fft.rfftfreq(n, d=1.0 / n, dtype=f.dtype, device=f.device)
    if n % 2 == 0 and order % 2:
        k[-1] = 0.0
    factor = 2j * math.pi / (n if length is None else length)
    return torch.fft.irfft(torch.fft.rfft(f) * factor**order * k**order, n=n)


def _d_column(f: torch.Tensor) -> torch.Tensor:
    """df/dj along the last (periodic) axis (`periodic_derivative` per grid index)."""
    return periodic_derivative(f)


@functools.lru_cache(maxsize=None)
def _fd_weights(offsets: tuple[int, ...]) -> list[float]:
    """Weights w_k with sum_k w_k f(k) = f'(0) + O(h^len(offsets)) for the integer offsets."""
    n = len(offsets)
    # Solve sum_k w_k offset_k^m = [m == 1] for m = 0..n-1, exactly in rationals.
    A = [[Fraction(o) ** m for o in offsets] for m in range(n)]
    b = [Fraction(int(m == 1)) for m in range(n)]
    for c in range(n):  # Gauss-Jordan elimination
        pivot = next(r for r in range(c, n) if A[r][c] != 0)
        A[c], A[pivot], b[c], b[pivot] = A[pivot], A[c], b[pivot], b[c]
        for r in range(n):
            if r != c and A[r][c] != 0:
                ratio = A[r][c] / A[c][c]
                A[r] = [a - ratio * ac for a, ac in zip(A[r], A[c])]
                b[r] -= ratio * b[c]
    return [float(b[k] / A[k][k]) for k in range(n)]


@functools.lru_cache(maxsize=None)
def _row_matrix(nt: int, order: int) -> torch.Tensor:
    """(nt, nt) float64 matrix D with (D f)_i = df/di: the stencils of `_d_row`, one row each."""
    half = order // 2
    D = torch.zeros(nt, nt, dtype=torch.float64)
    centred = _fd_weights(tuple(range(-half, half + 1)))
    for i in range(half, nt - half):
        D[i, i - half : i + half + 1] = torch.tensor(centred, dtype=torch.float64)
    for i in range(half):
        w = torch.tensor(_fd_weights(tuple(k - i for k in range(order + 1))), dtype=torch.float64)
        D[i, : order + 1] = w
        D[nt - 1 - i, nt - 1 - order :] = -w.flip(0)
    return D


def _d_row(f: torch.Tensor, order: int) -> torch.Tensor:
    """df/di along axis -2 (unit spacing), finite differences of the given (even) order:
    centred on order+1 rows in the interior, one-sided on order+1 rows near the two ends.
    Applied as one matrix product with the (nt, nt) stencil matrix."""
    D = _row_matrix(f.shape[-2], order).to(dtype=f.dtype, device=f.device)
    return D @ f


def _curvilinear(x, t, u, period, orders, row_order):
    n = x.shape[-1]
    j = torch.arange(n, dtype=x.dtype, device=x.device)
    x_j = _d_column(x - period * j / n) + period / n  # x - period*j/n is periodic in j
    x_i, t_i, t_j = _d_row(x, row_order), _d_row(t, row_order), _d_column(t)
    det = x_j * t_i - x_i * t_j

    def d_x(f):
        return (_d_column(f) * t_i - _d_row(f, row_order) * t_j) / det

    out = {}
    if "t" in orders:
        out["t"] = (_d_row(u, row_order) * x_j - _d_column(u) * x_i) / det
    f = u
    for order in ("x", "xx", "xxx", "xxxx"):
        if not any(o.startswith("x") and len(o) >= len(order) for o in orders):
            break
        f = d_x(f)
        if order in orders:
            out[order] = f
    return out


# ---------------------------------------------------------------------------------------------
# WENO-weighted local least-squares polynomial fits.


def _stencils(nt: int, nx: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Index stencils: list of (rows, cols), each (nt, nx, ROWS*COLS); cols may leave [0, nx)."""
    i = torch.arange(nt)[:, None, None]
    j = torch.arange(nx)[None, :, None]
    dr, dc = torch.meshgrid(torch.arange(_ROWS), torch.arange(_COLS), indexing="ij")
    dr, dc = dr.reshape(-1), dc.reshape(-1)
    out = []
    for row_start in (_ROWS // 2, _ROWS // 2 - 1):  # the two near-centred row windows
        first_row = (i - row_start).clamp(0, nt - _ROWS)
        for col_shift in (-1, 0, 1):  # left-shifted, centred, right-shifted
            first_col = j - _COLS // 2 + col_shift
            rows = (first_row + dr).expand(nt, nx, -1)
            cols = (first_col + dc).expand(nt, nx, -1)
            out.append((rows, cols))
    return out


def _powers(z: torch.Tensor, top: int) -> torch.Tensor:
    """z (...) -> (..., top + 1): z^0, z^1, ..., z^top."""
    out = [torch.ones_like(z)]
    for _ in range(top):
        out.append(out[-1] * z)
    return torch.stack(out, dim=-1)


# Exponents of the fit's monomials, and of the moments that make up its normal matrix G.
_P = torch.tensor([p for p, _ in _EXPONENTS])
_Q = torch.tensor([q for _, q in _EXPONENTS])
_GP, _GQ = _P[:, None] + _P[None, :], _Q[:, None] + _Q[None, :]


class _SolveSymmetric(torch.autograd.Function):
    """Batched c = G^-1 b for invertible symmetric G (..., K, K), b (..., K).

    One LU factorisation per matrix, reused by the backward pass: with w = G^-1 dL/dc,
    dL/db = w and dL/dG = -w c^T.
    """

    @staticmethod
    def forward(ctx, G, b):
        LU, pivots = torch.linalg.lu_factor(G)
        c = torch.linalg.lu_solve(LU, pivots, b[..., None])
        ctx.save_for_backward(LU, pivots, c)
        return c[..., 0]

    @staticmethod
    def backward(ctx, g):
        LU, pivots, c = ctx.saved_tensors
        w = torch.linalg.lu_solve(LU, pivots, g[..., None], adjoint=True)
        return -w @ c.mT, w[..., 0]


def _fit(xi: torch.Tensor, eta: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares fit of sum_k c_k xi^p_k eta^q_k (total degree <= _DEGREE) to values.

    xi, eta, values (..., m). Returns c (..., K) and the mean squared fit residual (...).
    Through the normal equations, assembled from the moments M_ab = sum_m xi^a eta^b
    (a + b <= 2 * _DEGREE): G_kl = M_(p_k + p_l)(q_k + q_l), (A^T v)_k = sum_m v xi^p_k eta^q_k.
    This never forms the (..., m, K) design matrix, which halves the time and memory of QR on
    that matrix (docs/decisions.md D6; `make bench-iterations`, loop pde_symmetries_weno). In float64 with the
    coordinates scaled to order one, G's conditioning costs ~1e-9 relative, far below the fits'
    truncation errors (tests/test_derivatives.py).
    """
    X, E = _powers(xi, 2 * _DEGREE), _powers(eta, 2 * _DEGREE)  # (..., m, 2D+1)
    moments = X.mT @ E  # (..., 2D+1, 2D+1)
    G = moments[..., _GP, _GQ]  # (..., K, K)
    Xv, E5 = X[..., : _DEGREE + 1] * values[..., None], E[..., : _DEGREE + 1]
    b = (Xv.mT @ E5)[..., _P, _Q]  # (..., K)
    c = _SolveSymmetric.apply(G, b)
    C = c.new_zeros(*c.shape[:-1], _DEGREE + 1, _DEGREE + 1)
    C[..., _P, _Q] = c  # (..., D+1, D+1)
    fitted = ((X[..., : _DEGREE + 1] @ C) * E5).sum(-1)  # (..., m)
    return c, (values - fitted).square().mean(-1)


def _weno(x, t, u, period, orders):
    nt, nx = x.shape[-2:]
    dtype = x.dtype
    x, t, u = (a.to(torch.float64) for a in (x, t, u))
    hx = period / nx
    ht = (t[..., 1:, :] - t[..., :-1, :]).abs().mean().clamp_min(1e-300)
    # Scaled local coordinates of order one on a stencil; the fits are in these coordinates.
    sx, st = hx * _COLS / 2, ht * _ROWS / 2
    u_scale = u.square().mean() + 1e-300
    fits, betas = [], []
    for rows, cols in _stencils(nt, nx):
        wraps = torch.div(cols, nx, rounding_mode="floor").to(torch.float64)
        cols = cols % nx
        xi = (x[..., rows, cols] + period * wraps - x[..., None]) / sx  # (..., nt, nx, m)
        eta = (t[..., rows, cols] - t[..., None]) / st
        coef, beta = _fit(xi, eta, u[..., rows, cols])  # (..., K), (...)
        fits.append(coef)
        betas.append(beta)
    beta = torch.stack(betas)  # (S, ..., nt, nx)
    weights = 1.0 / (1e-12 * u_scale + beta).square()
    weights = weights / weights.sum(0)
    coef = (weights[..., None] * torch.stack(fits)).sum(0)  # (..., nt, nx, K)
    out = {}
    for order in orders:
        p, q = _WANTED[order]
        k = _EXPONENTS.index((p, q))
        scale = math.factorial(p) * math.factorial(q) / (sx**p * st**q)
        out[order] = (coef[..., k] * scale).to(dtype)
    return out
