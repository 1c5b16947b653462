"""Graphs of PDE solutions: moving them along generators, resampling them to the grid, and the
validity of a field as a symmetry of a PDE.

A trajectory u (nt, nx) on the learner's normalised grid (x_i = i/nx, t_j = j/nt, `symflow.pde.pdes`)
is the graph of points (x_i, t_j, u_ij):

    grid_graph(u)                          the graph points (B, nt, nx, 3)
    transform_graph(field, graph, s)       every generator's flow of solution patches
    resample_graph(graph, method)          a moved graph read back on the grid (periodic sinc in x)
    graph_residual(equation, graph)        the PDE residual of graph points, normalised
    validity(field, equation, graph, s)    mean log clamped residual after flowing by s, (N,)
"""

from __future__ import annotations

import functools

import sympy
import torch

from .. import losses
from ..flows import flow
from ..generators import Field
from . import pdes
from .derivatives import derivatives

# --- PDE solutions: resampling transformed trajectories to the grid ---
# A solution u on the grid x_i = i / nx, t_j = j / nt (the learner's normalised coordinates) is
# the graph of points (x_i, t_j, u_ij). A flow moves them to (X_ij, T_ij, U_ij); the transformed
# solution at a grid point (x_k, t_m) is U at the source coordinates (xi, eta) (in cells) that
# land there: X(xi, eta) = x_k, T(xi, eta) = t_m. With the displacements in cells,
#     D_x(i, j) = nx X_ij - i,   D_t(i, j) = nt T_ij - j,
# (xi, eta) is the fixed point of  xi <- k - D_x(xi, eta),  eta <- m - D_t(xi, eta),  which
# converges when the displacements vary slowly (|grad D| < 1: small transformations). Every
# function of the graph (D_x, D_t, U) is interpolated between source points periodically in x
# (band-limited "sinc", or linear for the ablation) and linearly in t.
#
# The band-limited (Whittaker-Shannon, periodic sinc) interpolant of a row is evaluated at
# arbitrary xi by upsampling the row exactly by zero-padding its spectrum (factor OVERSAMPLE)
# and 4-point Lagrange interpolation on the fine grid: exact at the grid points (and hence for
# whole-cell shifts), and within ~(pi / OVERSAMPLE)^4 / 24 of the exact interpolant for the
# Nyquist mode (~6e-5 relative at 16x, far less for resolved modes), at O(1) cost per point
# instead of the O(nx) of the direct trigonometric sum.
RESAMPLING = ("sinc", "bilinear")
OVERSAMPLE = 16


def grid_graph(u: torch.Tensor) -> torch.Tensor:
    """The graph of u (B, nt, nx) on the normalised grid: (B, nt, nx, 3) points (i/nx, j/nt, u_ij)."""
    if u.ndim != 3:
        raise ValueError(f"u must have shape (B, nt, nx); got {tuple(u.shape)}")
    b, nt, nx = u.shape
    t = (torch.arange(nt, dtype=u.dtype, device=u.device) / nt)[:, None].expand(nt, nx)
    x = (torch.arange(nx, dtype=u.dtype, device=u.device) / nx)[None, :].expand(nt, nx)
    return torch.stack([x.expand(b, nt, nx), t.expand(b, nt, nx), u], dim=-1)


def upsample_periodic(F: torch.Tensor, factor: int) -> torch.Tensor:
    """Band-limited upsampling along the last axis: (..., nx) -> (..., factor * nx).

    Zero-pads the spectrum (an even nx's Nyquist coefficient split evenly between +-nx/2), so
    out[..., factor * i] = F[..., i] and out is the trigonometric interpolant on the fine grid.
    """
    nx = F.shape[-1]
    spectrum = torch.fft.rfft(F, dim=-1)
    if nx % 2 == 0:
        spectrum[..., -1] = spectrum[..., -1] / 2
    return torch.fft.irfft(spectrum, n=factor * nx, dim=-1) * factor


def _interpolate(F: torch.Tensor, xi: torch.Tensor, eta: torch.Tensor, factor: int) -> torch.Tensor:
    """Fine rows F (B, C, nt, n), n = factor * nx, at (column xi, row eta), each (B, P), in coarse
    cells -> (B, C, P): linear in the row; in x periodic, linear (factor 1) or 4-point Lagrange on
    the fine grid. Columns and weights are computed once for both rows."""
    b, c, nt, n = F.shape
    flat = F.reshape(b, c, nt * n)
    eta = eta.clamp(0, nt - 1)
    j0 = torch.floor(eta).clamp(max=nt - 2)
    wt = (eta - j0)[:, None]
    lower = j0.long() * n
    x = xi * factor
    left = torch.floor(x)
    w = (x - left)[:, None]
    column = left.long()
    if factor == 1:
        terms = [(0, 1 - w), (1, w)]
    else:
        terms = [
            (-1, -w * (w - 1) * (w - 2) / 6),
            (0, (w + 1) * (w - 1) * (w - 2) / 2),
            (1, -(w + 1) * w * (w - 2) / 2),
            (2, (w + 1) * w * (w - 1) / 6),
        ]
    out = 0
    for offset, weight in terms:
        index = lower + torch.remainder(column + offset, n)
        below = flat.gather(2, index[:, None].expand(b, c, -1))
        above = flat.gather(2, (index + n)[:, None].expand(b, c, -1))
        out = out + weight * torch.lerp(below, above, wt)
    return out


def resample_graph(
    graph: torch.Tensor, method: str = "sinc", tol: float | None = None, max_iter: int = 50
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resample a transformed graph to the grid it came from.

    graph: (B, nt, nx, 3), point [b, j, i] the image of the grid point (i/nx, j/nt, u_ij) (see
           `grid_graph`); x is periodic with period 1, t is not.
    method: "sinc" (periodic Whittaker-Shannon in x, see OVERSAMPLE; linear in t) or "bilinear"
           (linear in both: the ablation).
    tol:   fixed-point tolerance in cells (default 1e-10 in float64, 1e-4 in float32).
    Returns (u, covered): u (B, nt, nx) the transformed solution at the grid points, and covered
    (B, nt) bool, True for the rows m all of whose points have a source row eta in [0, nt - 1]
    and a converged fixed point (elsewhere u is extrapolated by clamping: cut those rows).
    """
    if method not in RESAMPLING:
        raise ValueError(f"method must be one of {', '.join(RESAMPLING)}; got {method!r}")
    if graph.ndim != 4 or graph.shape[-1] != 3 or graph.shape[1] < 2:
        raise ValueError(f"graph must have shape (B, nt, nx, 3) with nt >= 2; got {tuple(graph.shape)}")
    if tol is None:
        tol = 1e-10 if graph.dtype == torch.float64 else 1e-4
    b, nt, nx, _ = graph.shape
    cols = torch.arange(nx, dtype=graph.dtype, device=graph.device)
    rows = torch.arange(nt, dtype=graph.dtype, device=graph.device)
    target_x = cols[None, :].expand(nt, nx).reshape(1, -1)
    target_t = rows[:, None].expand(nt, nx).reshape(1, -1)
    F = torch.stack([graph[..., 0] * nx - cols, graph[..., 1] * nt - rows[:, None], graph[..., 2]], 1)
    D = F.reshape(b, 3, nt * nx)
    factor = OVERSAMPLE if method == "sinc" else 1
    F = upsample_periodic(F, factor) if factor > 1 else F
    xi, eta = target_x - D[:, 0], target_t - D[:, 1]
    for _ in range(max_iter):
        values = _interpolate(F[:, :2], xi, eta, factor)
        new_xi, new_eta = target_x - values[:, 0], target_t - values[:, 1]
        change = torch.maximum((new_xi - xi).abs(), (new_eta - eta).abs())
        xi, eta = new_xi, new_eta
        if change.max() <= tol:
            break
    values = _interpolate(F[:, 2:], xi, eta, factor)
    slack = 1e-6
    ok = (change <= tol) & (eta >= -slack) & (eta <= nt - 1 + slack)
    return values[:, 0].reshape(b, nt, nx), ok.reshape(b, nt, nx).all(-1)


# ---------------------------------------------------------------------------------------------
# PDE solutions: moving the graph of a solution (notebook 02).


def transform_graph(
    field: Field, graph: torch.Tensor, s, steps: int = 10, times=None, adjoint: bool = False
) -> torch.Tensor:
    """Move every point (x, t, u) of solution graphs along each of the N generators of `field`.

    graph (P, nt, nx, 3): P patches of graph points; s a float or a tensor (N,), one end time
    per generator. Generator a moves all P patches by s_a. The result keeps the grid's neighbour
    structure: out[a, p, i, j] is the image of graph[p, i, j].
    Returns (N, P, nt, nx, 3), or (len(times), N, P, nt, nx, 3) when `times` (fractions of s) is given.
    """
    if graph.ndim != 4 or graph.shape[-1] != 3:
        raise ValueError(f"graph must have shape (P, nt, nx, 3); got {tuple(graph.shape)}")
    n_gen = field.n_generators
    s = torch.as_tensor(s, dtype=graph.dtype, device=graph.device)
    if s.ndim == 0:
        s = s.expand(n_gen)
    if s.shape != (n_gen,):
        raise ValueError(f"s must be a float or have shape ({n_gen},); got {tuple(s.shape)}")
    flat = graph.reshape(-1, 3)
    points = flat[None].expand(n_gen, -1, -1)
    start = None if adjoint else field(flat).permute(2, 0, 1)  # every generator at the same points
    moved = flow(field.per_generator, points, s, steps, times, adjoint, start_velocity=start)
    return moved.reshape(*moved.shape[:-2], *graph.shape)


# ---------------------------------------------------------------------------------------------
# Validity of fields on PDE solutions.

_JET = ("x", "xx", "xxx", "xxxx")


def as_equation(equation) -> pdes.Equation:
    """An Equation from a name or an object with a residual; anything else is a ValueError."""
    if isinstance(equation, str):
        return pdes.get(equation)
    if not callable(getattr(equation, "residual", None)):
        raise ValueError(
            f"equation must be one of {', '.join(pdes.EQUATIONS)} or an Equation "
            f"with a registered residual; got {equation!r}"
        )
    return equation


@functools.lru_cache(maxsize=None)
def _orders(equation: pdes.Equation) -> tuple[str, ...]:
    """The x-derivatives that the equation's right-hand side uses (read off symbolically), and t."""
    jet = sympy.symbols("u u_x u_xx u_xxx u_xxxx")
    used = equation.rhs(pdes.t, *jet).free_symbols
    return ("t",) + tuple(o for o, sym in zip(_JET, jet[1:]) if sym in used)


def graph_residual(equation, graph: torch.Tensor, method: str = "curvilinear", row_order: int = 6) -> torch.Tensor:
    """c * (u_t - F(t, u, u_x, ...)) at graph points, shape (..., nt, nx), float64.

    graph (..., nt, nx, 3): points (x, t, u) in the equation's normalised coordinates, rows
    periodic in x (full period). Mapped to physical units, differentiated by
    `symflow.pde.derivatives` in float64, and multiplied by the normalisation constant c: the
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


def validity(
    field,
    equation,
    graph: torch.Tensor,
    s,
    steps: int = 10,
    times=None,
    floor: float = 1e-4,
    method: str = "curvilinear",
    row_order: int = 6,
    adjoint: bool = False,
) -> torch.Tensor:
    """Validity S_a of each generator of `field`: mean log max(|residual|, floor) of the graphs
    moved by s_a along generator a (read at the fractions `times` of s too, when given).

    field: any field with `per_generator` (learned, or known fields, ideally normalised);
    graph (P, nt, nx, 3) normalised graph patches (full x period); s float or (N,).
    Returns (N,); differentiable in the field's parameters (and in s), through the RK4 steps or,
    with `adjoint`, by the adjoint method (`flows.flow`). Low is valid: the floor gives
    log(1e-4) = -9.21 for an exact solution.
    """
    eq = as_equation(equation)
    moved = transform_graph(field, graph, s, steps, times, adjoint)
    residual = graph_residual(eq, moved, method, row_order)
    axis = residual.ndim - 4  # the generator axis: (T?, N, P, nt, nx)
    dims = tuple(k for k in range(residual.ndim) if k != axis)
    return losses.residual_validity(residual, floor, dims)
