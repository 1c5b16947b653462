"""A LieNLSD-style symmetry detector: the Lie point symmetries of gridded PDE data within a fixed
library of vector fields, from the null space of one linear system.

Written from the description of Hu, Li, Lin, "Explicit Discovery of Nonlinear Symmetries from
Dynamic Data" (ICML 2025, arXiv 2510.01855); no code is taken
from its repository. The method:

* A generator is v = xi d_x + tau d_t + phi d_u with each component a linear combination of a
  fixed library Theta(x, t, u) of candidate functions: (xi, tau, phi) = W Theta, W (3, m). The
  default library is LieNLSD's: the 10 monomials in (x, t, u) of degree <= 2 (`monomials`).
* For an evolution equation u_t = F(x, t, u, u_x, ..., u_xxxx) the infinitesimal criterion
  pr v [u_t - F] = 0 on solutions reads

      phi^t - sum_k (dF/du_k) phi^(k) - xi dF/dx - tau dF/dt = 0,

  with the prolonged coefficients phi^(k) = D_x^k Q + xi u_(k+1)x + tau u_(kx)t and
  phi^t = D_t Q + xi u_xt + tau u_tt of the characteristic Q = phi - xi u_x - tau u_t (Olver,
  Applications of Lie Groups to Differential Equations, ch. 2). The top derivatives cancel:
  phi^(k) holds derivatives of order <= k only (u_x .. u_(kx) and the mixed u_t .. u_((k-1)x)t),
  phi^t of order 1 (u_x, u_t), so an equation of order 4 needs the jet up to u_xxxx and u_xxxt,
  no u_tt. On solutions it equals the characteristic form D_t Q - F'[u] Q of
  `pdes.symmetry_defect` (the two differ by xi D_x(u_t - F) + tau D_t(u_t - F)). It is linear in
  W: each library field (one component, one function) gives one column, assembled symbolically
  (sympy) once and evaluated at every data point, one row per point: A vec(W) = 0.
* Columns are normalised to unit length; the SVD of A gives the singular values; those below a
  threshold set at the largest gap of the log10-spectrum span the null space, the symmetry
  algebra within the library, and their number is the count. Two kinds of null direction need no
  estimated derivative and so sit at round-off rather than at the data's error level: a column
  that vanishes identically (the criterion of d_x for an F without explicit x, of d_t for one
  without explicit t) is set aside before the SVD, counted in the null space and reported with
  singular value 0; and a combination whose criterion cancels algebraically (the Galilean boost's
  -u_x + u_x) gives a round-off singular value. So that the drop from the data's error level to
  round-off is not taken for the gap, singular values are raised to `floor_rtol` (1e-10) times
  the largest before the gaps are measured; a largest gap under `min_gap` decades counts no
  non-trivial direction.
* The null space is returned in reduced row echelon form (pivots on the earliest library columns,
  chosen in the normalised columns), each field scaled to a unit pivot: with the default library
  KdV's come out as d_x, x d_x + 3t d_t - 2u d_u, t d_x + d_u, d_t.

Two variants of F:

    "known"   the equation's own rhs (`pdes.Equation.rhs` applied to sympy jet symbols).
    "fitted"  F fitted from the data, as LieNLSD does. LieNLSD fits a small neural network; here
              it is a sparse regression (sequentially thresholded least squares, SINDy-style) of
              the data's u_t on a fixed library of jet terms (`jet_terms`: u^p times 1, u_x,
              u_xx, u_xxx, u_xxxx, u_x^2 for p = 0, 1, 2). Chosen because the fit is a closed
              form: F's partial derivatives dF/du_k, which the criterion needs, are exact
              derivatives of a sympy expression rather than autograd derivatives of a network
              trained to a finite tolerance; it needs no training (deterministic, a fraction of a
              second) and it recovers the five equations' right-hand sides, whose terms are all in
              the term library (nKdV and cKdV have explicit t, which it has not: their fit is an
              autonomous approximation). A term survives when its share of u_t,
              |c_j| |Theta_j| / |u_t|, is at least `fit_threshold` (0.3: on exact data the
              true terms' shares are 0.55 (Burgers' viscous term) to 5.5, the others' below
              1e-4; under 1e-3 noise spurious terms reach 0.27).

The jet at the data points: x-derivatives spectrally on the periodic grid
(`derivatives.periodic_derivative`); u_t by centred finite differences in t (the least-squares
derivative of a polynomial of degree `t_degree` through 2 `t_half` + 1 saved times, which for the
default degree 2 `t_half` is the exact centred difference of order 2 `t_half`), and the mixed
u_(kx)t as spectral x-derivatives of that u_t. Only time rows with a full centred stencil are used.
With `time_derivatives="equation"` the t-derivatives are instead eliminated through the equation,
u_t = F and u_(kx)t = D_x^k F (needs u up to order 4 + 3 = 7 for KS, but no time differences:
the choice for coarsely saved data).

The physical x is not periodic as a monomial (x d_x is not a field on the circle), but the
criterion is pointwise, so evaluating it at every grid point is correct: the detector finds the
symmetries of the equation, including those the periodic domain breaks (`broken_by_domain`).

Noise: `noise` adds Gaussian noise of standard deviation `noise` times the data's standard
deviation (over the chosen trajectories) to u before anything is estimated. The smoothing
(`smoothing="auto"`: on exactly when noise > 0) is (1) a sharp spectral low-pass in x: the
white-noise floor of the x-spectrum is the median power of the top quarter of the modes, and the
modes kept are those below the first one whose mean power falls under `floor_factor` times that
floor; (2) in t, Savitzky-Golay: the value and the slope at the centre of the least-squares
polynomial of degree `t_degree` (default 4 when smoothing) through 2 `t_half` + 1 saved times
(default 7 each side when smoothing) give u (then differentiated in x) and u_t. Smoothing removes
the noise only down to the truncation error of the modes it drops, which third and fourth
derivatives amplify: fields whose criterion needs estimated derivatives (KdV's and Burgers'
scalings, Burgers' projective field) are then lost first, while those that cancel algebraically
(translations, the boost) remain.

    monomials(degree)             the default library (sympy expressions in pdes.x, t, u)
    jet, total_derivative, prolongation   the symbolic jet calculus behind the criterion
    detect(equation, data, ...)   -> Detection (fields, singular values, count, seconds, ...)
    function_field(det, equation) the detected fields in the learner's normalised coordinates
    data_points(equation, data)   points (n, 3) in normalised coordinates for an InnerProduct
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import time
from typing import Sequence

import numpy as np
import sympy
import torch

from ..generators import FunctionField
from . import derivatives, pdes

VARIANTS = ("known", "fitted")
TIME_DERIVATIVES = ("data", "equation")
_ORDER = 4  # the equations are of order <= 4 in x


# ---- jet symbols and total derivatives ------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def jet(a: int, b: int = 0) -> sympy.Symbol:
    """The jet symbol of d^(a+b) u / dx^a dt^b: u, u_x, u_xx, u_t, u_xt, ... (jet(0, 0) is pdes.u)."""
    name = "u" if a + b == 0 else "u_" + "x" * a + "t" * b
    return sympy.Symbol(name, real=True)


def _jet_index(symbol) -> tuple[int, int] | None:
    name = symbol.name
    if name == "u":
        return (0, 0)
    if (
        name.startswith("u_")
        and set(name[2:]) <= {"x", "t"}
        and name[2:] == "x" * name.count("x") + "t" * name.count("t")
    ):
        return (name.count("x"), name.count("t"))
    return None


def total_derivative(expr: sympy.Expr, direction: str) -> sympy.Expr:
    """Total derivative D_x (direction "x") or D_t ("t") of a sympy expression in x, t and the
    `jet` symbols."""
    base = pdes.x if direction == "x" else pdes.t
    out = sympy.diff(expr, base)
    for s in expr.free_symbols:
        index = _jet_index(s)
        if index is not None:
            a, b = index
            out += (jet(a + 1, b) if direction == "x" else jet(a, b + 1)) * sympy.diff(expr, s)
    return out


def prolongation(xi, tau, phi, orders: Sequence[int]) -> tuple[sympy.Expr, dict[int, sympy.Expr]]:
    """(phi^t, {k: phi^(k)}) of v = xi d_x + tau d_t + phi d_u (sympy in x, t, u), in jet symbols."""
    xi, tau, phi = (sympy.sympify(e) for e in (xi, tau, phi))
    Q = phi - xi * jet(1) - tau * jet(0, 1)
    phi_t = sympy.expand(total_derivative(Q, "t") + xi * jet(1, 1) + tau * jet(0, 2))
    out, G = {}, Q
    for k in range(max(orders, default=0) + 1):
        if k:
            G = total_derivative(G, "x")
        if k in orders:
            out[k] = sympy.expand(G + xi * jet(k + 1) + tau * jet(k, 1))
    return phi_t, out


# ---- libraries ------------------------------------------------------------------------------------
def monomials(degree: int = 2) -> list[sympy.Expr]:
    """The monomials in (x, t, u) of total degree <= `degree`, by degree, then x before t before u:
    1, x, t, u, x^2, x t, x u, t^2, t u, u^2 for degree 2 (LieNLSD's library)."""
    variables = (pdes.x, pdes.t, pdes.u)
    out = []
    for d in range(degree + 1):
        for combo in itertools.combinations_with_replacement(variables, d):
            out.append(sympy.Mul(*combo))
    return out


def jet_terms() -> list[sympy.Expr]:
    """The fitted variant's default terms of F: u^p times 1, u_x, u_xx, u_xxx, u_xxxx, u_x^2, p = 0, 1, 2."""
    base = [sympy.Integer(1), jet(1), jet(2), jet(3), jet(4), jet(1) ** 2]
    return [jet(0) ** p * m for p in range(3) for m in base]


# ---- numerical evaluation of sympy expressions -----------------------------------------------------
_TORCH = {name: getattr(torch, name) for name in ("exp", "log", "sqrt", "sin", "cos", "tanh", "cosh", "sinh")}


def _evaluate(exprs: Sequence[sympy.Expr], values: dict, n: int) -> torch.Tensor:
    """exprs evaluated at n points, `values` {symbol: tensor (n,)} -> (len(exprs), n) float64."""
    exprs = [sympy.sympify(e) for e in exprs]
    symbols = sorted(set().union(*(e.free_symbols for e in exprs)), key=lambda s: s.name)
    missing = [s for s in symbols if s not in values]
    if missing:
        raise ValueError(f"no values for {missing} (the jet estimated has fewer derivatives)")
    f = sympy.lambdify(symbols, exprs, modules=[_TORCH, "math"])
    got = f(*(values[s] for s in symbols))
    zeros = torch.zeros(n, dtype=torch.float64)
    return torch.stack([zeros + torch.as_tensor(g, dtype=torch.float64) for g in got])


def _max_x_order(exprs) -> tuple[int, int]:
    """Highest a of the symbols u_(ax) and of u_(ax)t in the expressions (-1 where none)."""
    top = [-1, -1]
    for e in exprs:
        for s in sympy.sympify(e).free_symbols:
            index = _jet_index(s)
            if index is not None:
                a, b = index
                if b > 1:
                    raise ValueError(f"the criterion should not need {s}")
                top[b] = max(top[b], a)
    return top[0], top[1]


# ---- derivatives of the data ------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _t_weights(half: int, degree: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Weights w_j, j = -half..half, of the value and of the derivative at 0 of the least-squares
    polynomial of `degree` through f(j) (Savitzky-Golay; degree 2 half: the point itself and the
    centred finite difference of order 2 half)."""
    if not 1 <= degree <= 2 * half:
        raise ValueError(f"t_degree must be in 1..2 t_half = {2 * half}; got {degree}")
    j = torch.arange(-half, half + 1, dtype=torch.float64)
    V = j[:, None] ** torch.arange(degree + 1, dtype=torch.float64)  # (2h+1, degree+1)
    P = torch.linalg.pinv(V)  # the fit's coefficients; at 0 its value and slope are the first two
    return tuple(P[0].tolist()), tuple(P[1].tolist())


def _low_pass(u_hat: torch.Tensor, floor_factor: float) -> torch.Tensor:
    """Mask (n_modes,) of the x-modes kept: those below the first whose mean power is under
    floor_factor times the noise floor (median power of the top quarter of the modes)."""
    power = u_hat.abs().square().reshape(-1, u_hat.shape[-1]).mean(0)
    n = power.shape[0]
    floor = power[-max(n // 4, 1) :].median()
    below = torch.nonzero(power[1:] < floor_factor * floor)
    cut = int(below[0]) + 1 if below.numel() else n
    return torch.arange(n) < cut


# ---- the result -----------------------------------------------------------------------------------
@dataclasses.dataclass
class Detection:
    """What `detect` found.

    fields           list of (xi, tau, phi), sympy expressions in the physical pdes.x, t, u
    coefficients     (count, 3, m) float64: field a is coefficients[a] @ library
    count            dimension of the detected algebra
    singular_values  (3m,) descending, of the column-normalised A (identically null columns: 0)
    threshold        the cut: geometric midpoint of the largest gap (nan when no gap was used)
    gap_decades      the largest gap of the log10 spectrum of the non-trivial columns, after the
                     floor (nan: fewer than two such columns)
    trivial          names of the library fields whose column vanishes identically
    library          the m library functions; names: "component*function" per column
    rhs              the F used (sympy, jet symbols u, u_x, ...); fit: the fitted variant's
                     {"terms", "coefficients", "share", "r2"} (None for "known")
    seconds          wall seconds: {"jet", "fit", "assemble", "svd", "total"}
    n_points, trajectories, variant, time_derivatives, noise, smoothing, kept_modes
    """

    fields: list
    coefficients: torch.Tensor
    count: int
    singular_values: torch.Tensor
    threshold: float
    gap_decades: float
    trivial: list
    library: list
    names: list
    rhs: sympy.Expr
    fit: dict | None
    seconds: dict
    n_points: int
    trajectories: list
    variant: str
    time_derivatives: str
    noise: float
    smoothing: bool
    kept_modes: int | None


def _check_choice(value, choices, name):
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _as_arrays(data, times):
    if hasattr(data, "data_vars"):  # an xarray Dataset from symflow.pde.solvers
        if times is None:
            times = data["t"].values
        data = data["u"].values
    if times is None:
        raise ValueError("times are needed when data is an array (B, T, nx)")
    u, times = (
        a.detach().to("cpu", torch.float64) if torch.is_tensor(a) else torch.tensor(np.array(a, dtype=np.float64))
        for a in (data, times)
    )
    if u.ndim != 3 or u.shape[1] != times.shape[0]:
        raise ValueError(f"data must be (B, T, nx) with T = len(times) = {times.shape[0]}; got {tuple(u.shape)}")
    steps = times.diff()
    if steps.numel() == 0 or (steps - steps[0]).abs().max() > 1e-9 * abs(float(steps[0])) or float(steps[0]) <= 0:
        raise ValueError("times must be increasing and uniformly spaced")
    return u, times


def _select(n_total: int, trajectories) -> list[int]:
    if trajectories is None:
        return list(range(n_total))
    if isinstance(trajectories, int):
        if not 1 <= trajectories <= n_total:
            raise ValueError(f"trajectories must be in 1..{n_total}; got {trajectories}")
        return list(range(trajectories))
    chosen = [int(i) for i in trajectories]
    if not chosen or any(not 0 <= i < n_total for i in chosen):
        raise ValueError(f"trajectories must index 0..{n_total - 1}; got {chosen}")
    return chosen


def _rhs(equation: pdes.Equation) -> sympy.Expr:
    return sympy.sympify(equation.rhs(pdes.t, *(jet(k) for k in range(_ORDER + 1))))


def _fit_rhs(values: dict, u_t: torch.Tensor, terms, threshold: float) -> tuple[sympy.Expr, dict]:
    """Sequentially thresholded least squares of u_t on the terms (see the module docstring)."""
    n = u_t.shape[0]
    Theta = _evaluate(terms, values, n).T  # (n, K)
    norms = Theta.norm(dim=0).clamp_min(1e-300)
    scale = u_t.norm().clamp_min(1e-300)
    active = torch.ones(len(terms), dtype=torch.bool)
    coef = torch.zeros(len(terms), dtype=torch.float64)
    for _ in range(20):
        sol = torch.linalg.lstsq(Theta[:, active] / norms[active], u_t[:, None]).solution[:, 0]
        coef = torch.zeros(len(terms), dtype=torch.float64)
        coef[active] = sol / norms[active]
        keep = (coef.abs() * norms / scale) >= threshold
        if torch.equal(keep, active) or not keep.any():
            break
        active = keep
    r2 = 1 - float((u_t - Theta @ coef).square().sum() / (u_t - u_t.mean()).square().sum())
    F = sum((sympy.Float(float(c)) * term for c, term in zip(coef, terms) if c != 0), sympy.Integer(0))
    share = coef.abs() * norms / scale
    return F, {"terms": list(terms), "coefficients": coef, "share": share, "r2": r2}


def _gap_count(s: torch.Tensor, min_gap: float, rtol: float) -> tuple[int, float, float]:
    """(number of singular values below the largest log10 gap, threshold, gap in decades) of s
    (descending), each first raised to rtol times the largest; 0 null directions when the largest
    gap is under min_gap decades."""
    if s.numel() < 2:
        return 0, math.nan, math.nan
    logs = s.clamp_min(rtol * float(s[0]) + 1e-300).log10()
    gaps = logs[:-1] - logs[1:]
    i = int(gaps.argmax())
    gap = float(gaps[i])
    if gap < min_gap:
        return 0, math.nan, gap
    return s.numel() - (i + 1), float(10 ** ((logs[i] + logs[i + 1]) / 2)), gap


def _combination(weights: torch.Tensor, functions) -> sympy.Expr:
    """sum_j weights_j functions_j as a sympy expression (zero weights left out; integral ones,
    such as a unit pivot, as integers)."""
    numbers = ((float(w), f) for w, f in zip(weights, functions) if w != 0)
    terms = ((sympy.Integer(int(w)) if w.is_integer() else sympy.Float(w)) * f for w, f in numbers)
    return sympy.expand(sum(terms, sympy.Integer(0)))


def _rref(N: torch.Tensor, tol: float = 1e-8) -> tuple[torch.Tensor, list[int]]:
    """Reduced row echelon form of the rows of N (r, p) and its pivot columns: pivots on the
    earliest columns whose remaining entries exceed tol times the largest entry."""
    R = N.clone()
    r, p = R.shape
    row, pivots = 0, []
    big = float(R.abs().max()) if R.numel() else 0.0
    for col in range(p):
        if row == r:
            break
        pivot = int(R[row:, col].abs().argmax()) + row
        if float(R[pivot, col].abs()) <= tol * big:
            continue
        R[[row, pivot]] = R[[pivot, row]]
        R[row] = R[row] / R[row, col]
        for other in range(r):
            if other != row:
                R[other] = R[other] - R[other, col] * R[row]
        pivots.append(col)
        row += 1
    return R, pivots


# ---- the detector -----------------------------------------------------------------------------------
def detect(
    equation,
    data,
    times=None,
    variant: str = "known",
    library: Sequence | None = None,
    trajectories=None,
    n_rows: int = 64,
    seed: int = 0,
    noise: float = 0.0,
    smoothing="auto",
    floor_factor: float = 10.0,
    t_half: int | None = None,
    t_degree: int | None = None,
    time_derivatives: str = "data",
    terms: Sequence | None = None,
    fit_threshold: float = 0.3,
    min_gap: float = 1.0,
    floor_rtol: float = 1e-10,
    count: int | None = None,
    chop: float = 1e-9,
) -> Detection:
    """Detect the Lie point symmetries of `equation` (name or pdes.Equation) in `data` within `library`.

    data: a data set of `symflow.pde.solvers` (u (sample, t, x), its t coordinate used), or an
        array (B, T, nx) of u on `equation.grid(nx)` at the uniform physical `times` (T,).
    variant: "known" (the equation's rhs) or "fitted" (F fitted from the data; see the module).
    library: sympy expressions in pdes.x, t, u (default `monomials(2)`).
    trajectories: None (all), an int n (the first n) or a list of indices.
    n_rows: (trajectory, time) rows drawn at random (`seed`) among those with a full t-stencil;
        every grid point of a row is a data point, so there are n_rows * nx rows of A.
    noise: standard deviation of added Gaussian noise, as a fraction of the data's (seed `seed`).
    smoothing: "auto" (when noise > 0), True or False: the x low-pass and Savitzky-Golay t
        derivative of the module docstring (floor_factor, t_half, t_degree; defaults 3 and 6 without
        smoothing, 7 and 4 with it).
    time_derivatives: "data" (finite differences in t) or "equation" (u_t = F, u_(kx)t = D_x^k F).
    terms, fit_threshold: the fitted variant's term library (default `jet_terms()`) and threshold.
    min_gap, floor_rtol: the gap rule of the module docstring. count: force the dimension instead
        of reading it from the gap (the trivial columns first, then the smallest singular values).
    chop: entries of the reduced null basis below this (in units of the normalised columns, the
        pivot being 1) are set to 0, which only cleans round-off from the printed fields.
    """
    start = time.perf_counter()
    equation = pdes.get(equation) if isinstance(equation, str) else equation
    _check_choice(variant, VARIANTS, "variant")
    _check_choice(time_derivatives, TIME_DERIVATIVES, "time_derivatives")
    if not isinstance(n_rows, int) or n_rows <= 0:
        raise ValueError(f"n_rows must be a positive integer; got {n_rows!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0; got {noise!r}")
    smooth = noise > 0 if smoothing == "auto" else bool(smoothing)
    t_half = (7 if smooth else 3) if t_half is None else int(t_half)
    t_degree = (4 if smooth else 2 * t_half) if t_degree is None else int(t_degree)
    value_weights, weights = (torch.tensor(w, dtype=torch.float64) for w in _t_weights(t_half, t_degree))
    library = monomials(2) if library is None else [sympy.sympify(e) for e in library]
    u_all, times = _as_arrays(data, times)
    chosen = _select(u_all.shape[0], trajectories)
    u = u_all[chosen]
    B, T, nx = u.shape
    dt = float(times[1] - times[0])
    if T < 2 * t_half + 1:
        raise ValueError(f"need at least {2 * t_half + 1} saved times for the t-stencil; got {T}")
    generator = torch.Generator().manual_seed(seed)
    if noise > 0:
        u = u + noise * u.std() * torch.randn(u.shape, generator=generator, dtype=torch.float64)

    # ---- F and the symbolic criterion per library field --------------------------------------
    F_symbolic = _rhs(equation) if variant == "known" else None
    fit_terms = jet_terms() if terms is None else [sympy.sympify(e) for e in terms]
    # orders k with dF/du_k possibly non-zero: the equation's own, or those of the fitted terms
    F_shape = F_symbolic if F_symbolic is not None else sum(fit_terms, sympy.Integer(0))
    orders = [k for k in range(_ORDER + 1) if sympy.diff(F_shape, jet(k)) != 0]
    columns, names = [], []
    for c, part in enumerate(("xi", "tau", "phi")):
        for theta in library:
            comps = [sympy.Integer(0)] * 3
            comps[c] = theta
            columns.append((comps, prolongation(*comps, orders)))
            names.append(f"{part}*{theta}")
    needed = [e for _, (pt, pk) in columns for e in (pt, *pk.values())]
    top_x, top_xt = _max_x_order(needed)
    F_of_order = max((k for k in orders), default=0)
    if time_derivatives == "equation":
        top_x = max(top_x, F_of_order + max(top_xt, 0))

    # ---- the jet at the chosen points -----------------------------------------------------------
    rows_t = torch.arange(t_half, T - t_half)
    pairs = torch.cartesian_prod(torch.arange(B), rows_t)
    pick = pairs[torch.randperm(pairs.shape[0], generator=generator)[: min(n_rows, pairs.shape[0])]]
    window = pick[:, 1:2] + torch.arange(-t_half, t_half + 1)  # (R, 2h+1)
    stencil = u[pick[:, :1], window]  # (R, 2h+1, nx)
    u_hat = torch.fft.rfft(stencil)
    kept = None
    if smooth:
        mask = _low_pass(u_hat, floor_factor)
        kept = int(mask.sum())
        stencil = torch.fft.irfft(u_hat * mask, n=nx)
    centre = torch.einsum("j,rjx->rx", value_weights, stencil) if smooth else stencil[:, t_half]  # (R, nx)
    R = centre.shape[0]
    n = R * nx
    values = {pdes.x: equation.grid(nx).repeat(R), pdes.t: times[pick[:, 1]].repeat_interleave(nx), jet(0): None}
    values[jet(0)] = centre.reshape(-1)
    for a in range(1, max(top_x, 0) + 1):
        values[jet(a)] = derivatives.periodic_derivative(centre, equation.L, a).reshape(-1)
    u_t_data = torch.einsum("j,rjx->rx", weights, stencil) / dt
    seconds = {"jet": time.perf_counter() - start}

    # ---- F: known or fitted ------------------------------------------------------------------------
    tic = time.perf_counter()
    fit = None
    if variant == "fitted":
        F_symbolic, fit = _fit_rhs(values, u_t_data.reshape(-1), fit_terms, fit_threshold)
    if time_derivatives == "data":
        for a in range(0, max(top_xt, 0) + 1):
            d = u_t_data if a == 0 else derivatives.periodic_derivative(u_t_data, equation.L, a)
            values[jet(a, 1)] = d.reshape(-1)
    else:
        G = F_symbolic
        for a in range(0, max(top_xt, 0) + 1):
            if a:
                G = total_derivative(G, "x")
            values[jet(a, 1)] = _evaluate([G], values, n)[0]
    seconds["fit"] = time.perf_counter() - tic

    # ---- A: one column per library field -------------------------------------------------------------
    tic = time.perf_counter()
    partials = {k: sympy.diff(F_symbolic, jet(k)) for k in orders}
    Fk = dict(zip(orders, _evaluate([partials[k] for k in orders], values, n)))
    Fx, Ft = _evaluate([sympy.diff(F_symbolic, pdes.x), sympy.diff(F_symbolic, pdes.t)], values, n)
    lib_values = _evaluate(library, {pdes.x: values[pdes.x], pdes.t: values[pdes.t], pdes.u: values[jet(0)]}, n)
    m = len(library)
    A = torch.empty(n, 3 * m, dtype=torch.float64)
    trivial = torch.zeros(3 * m, dtype=torch.bool)
    for j, (comps, (pt, pk)) in enumerate(columns):
        criterion = pt - sum(partials[k] * pk[k] for k in orders) - comps[0] * sympy.diff(F_symbolic, pdes.x)
        criterion = sympy.expand(criterion - comps[1] * sympy.diff(F_symbolic, pdes.t))
        trivial[j] = criterion == 0
        ev = _evaluate([pt, *(pk[k] for k in orders)], values, n)
        col = ev[0] - sum(Fk[k] * ev[1 + i] for i, k in enumerate(orders))
        c, theta = divmod(j, m)
        if c == 0:
            col = col - lib_values[theta] * Fx
        elif c == 1:
            col = col - lib_values[theta] * Ft
        A[:, j] = col
    norms = A.norm(dim=0)
    trivial |= norms <= 1e-12 * float(norms.max().clamp_min(1e-300))
    norms[trivial] = 1.0
    An = A / norms
    seconds["assemble"] = time.perf_counter() - tic

    # ---- SVD and the null space -----------------------------------------------------------------------
    tic = time.perf_counter()
    live = torch.nonzero(~trivial)[:, 0]
    _, s, Vh = torch.linalg.svd(An[:, live], full_matrices=False)
    n_live, threshold, gap = _gap_count(s, min_gap, floor_rtol)
    n_trivial = int(trivial.sum())
    if count is not None:
        if not 0 <= count <= 3 * m:
            raise ValueError(f"count must be in 0..{3 * m}; got {count}")
        n_live, threshold = max(count - n_trivial, 0), math.nan
    null = torch.zeros(n_trivial + n_live, 3 * m, dtype=torch.float64)
    null[torch.arange(n_trivial), torch.nonzero(trivial)[:, 0]] = 1.0
    if n_live:
        null[n_trivial:, live] = Vh[-n_live:]
    if count is not None and count < null.shape[0]:
        null = null[:count]
    reduced, pivots = _rref(null)
    reduced = torch.where(reduced.abs() < chop, 0.0, reduced)  # clean round-off (normalised units)
    W = reduced / norms  # physical coefficients
    W = torch.stack([row / row[p] for row, p in zip(W, pivots)]) if pivots else W[:0]
    W = W.reshape(-1, 3, m)
    singular = torch.cat([s, torch.zeros(n_trivial, dtype=torch.float64)])
    seconds["svd"] = time.perf_counter() - tic
    fields = [tuple(_combination(row, library) for row in Wa) for Wa in W]
    seconds["total"] = time.perf_counter() - start
    return Detection(
        fields=fields,
        coefficients=W,
        count=W.shape[0],
        singular_values=singular,
        threshold=threshold,
        gap_decades=gap,
        trivial=[names[j] for j in torch.nonzero(trivial)[:, 0].tolist()],
        library=library,
        names=names,
        rhs=F_symbolic,
        fit=fit,
        seconds=seconds,
        n_points=n,
        trajectories=chosen,
        variant=variant,
        time_derivatives=time_derivatives,
        noise=float(noise),
        smoothing=smooth,
        kept_modes=kept,
    )


def function_field(detection: Detection, equation) -> FunctionField:
    """The detected fields in the learner's normalised coordinates (`pdes.Equation.normalised_field`),
    one `generators.FunctionField` (n, 3) -> (n, 3, count), for `metrics.principal_angles`."""
    equation = pdes.get(equation) if isinstance(equation, str) else equation
    if not detection.fields:
        raise ValueError("the detection found no field")
    carriers = [
        pdes.Symmetry(f"detected {i + 1}", xi, tau, phi, "exact") for i, (xi, tau, phi) in enumerate(detection.fields)
    ]
    parts = [equation.normalised_field(s) for s in carriers]

    def fn(z: torch.Tensor) -> torch.Tensor:
        return torch.stack([f(z) for f in parts], dim=-1)

    return FunctionField(fn, len(parts), 3, [s.name for s in carriers])


def data_points(equation, data, times=None, n: int = 4096, seed: int = 0) -> torch.Tensor:
    """n points (x, t, u) of the data drawn at random (`seed`), in normalised coordinates, (n, 3)."""
    equation = pdes.get(equation) if isinstance(equation, str) else equation
    u, times = _as_arrays(data, times)
    B, T, nx = u.shape
    g = torch.Generator().manual_seed(seed)
    b, i, j = (torch.randint(k, (n,), generator=g) for k in (B, T, nx))
    xn, tn, un = equation.normalise(equation.grid(nx)[j], times[i], u[b, i, j])
    return torch.stack([xn, tn, un], dim=-1)
