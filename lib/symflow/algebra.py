"""What a set of learned generators is: its Lie brackets, structure constants and a symbolic form.

Fields are `generators.Field`s (z (n, d) -> (n, d, N)); everything is evaluated at the points of
an `InnerProduct` and compared under it (the coordinates of the field: for PDEs the learner's
normalised (x, t, u), periodic in x through the field itself).

    jacobian_products(field, z)    J[..., a, b] = (V_a . grad) V_b at z, by forward-mode autograd
    brackets(field, z)             [V_a, V_b] = (V_a . grad) V_b - (V_b . grad) V_a
    structure(field, inner, k)     structure constants C[a, b, c] of V_1..V_k by least squares,
                                   [V_a, V_b] ~ sum_c C[a, b, c] V_c, and each bracket's closure
                                   residual (the part outside span{V_1..V_k})
    nested_closure(field, inner)   the closure of span{V_1..V_k} for every k
    change_basis(C, M)             the constants in the basis W = V M
    unit_constants(C, norms)       the constants of the same fields scaled to unit norm
    exact_structure(symmetries)    the constants of registered (sympy) fields, exactly, or None
                                   for brackets that leave their span
    span_angles(V, W, inner)       principal angles and both one-sided angles, in degrees
    symbolic_readout(...)          a sparse basis of a learned span in a small library of terms
                                   (least squares and thresholding; the image readout)
    sparse_readout(...)            the basis of fewest terms by sparse selection from a large
                                   library (the PDE readout: pde_readout over pde_library, one
                                   library for every equation)
    count_symmetries(validity)     how many learned generators the validity calls symmetries

The closure residual of [V_a, V_b] is |[V_a, V_b] - P [V_a, V_b]| / (|J_ab| + |J_ba|), P the
projection onto span{V_1..V_k} under the inner product: 0 for a bracket inside the span, at most
1 (|[V,W]| <= |J_ab| + |J_ba|), and free of the fields' scales; a pair whose products both vanish
(two translations) has residual 0.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import sympy
import torch

from . import metrics
from .generators import Field, FunctionField, InnerProduct
from .pde import pdes

# ---------------------------------------------------------------------------------------------
# Brackets.


def jacobian_products(field: Field, z: torch.Tensor) -> torch.Tensor:
    """(n, d, N, N) with [..., a, b] = (V_a . grad) V_b (z) = D V_b(z) V_a(z), one forward-mode
    Jacobian-vector product per a (torch.func.jvp), exact up to rounding."""
    if z.ndim != 2 or z.shape[1] != field.dim:
        raise ValueError(f"z must have shape (n, {field.dim}); got {tuple(z.shape)}")
    z = z.detach()
    with torch.no_grad():
        V = field(z)
    out = []
    for a in range(field.n_generators):
        _, dV = torch.func.jvp(field, (z,), (V[..., a].contiguous(),))
        out.append(dV)
    return torch.stack(out, dim=2).detach()


def brackets(field: Field, z: torch.Tensor) -> torch.Tensor:
    """(n, d, N, N): [V_a, V_b](z) = (V_a . grad) V_b - (V_b . grad) V_a (antisymmetric in a, b)."""
    J = jacobian_products(field, z)
    return J - J.transpose(2, 3)


def _weighted(A: torch.Tensor, inner: InnerProduct) -> torch.Tensor:
    """(n, d, ...) -> sqrt(w)-weighted, flattened over points and components: (n*d, ...), float64."""
    w = inner.weights.to(torch.float64).sqrt()
    A = A.to(torch.float64)
    return (w.reshape(-1, *[1] * (A.ndim - 1)) * A).reshape(-1, *A.shape[2:])


def structure(field: Field, inner: InnerProduct, k: int | None = None) -> dict:
    """Structure constants and closure of span{V_1..V_k} (k: all N generators when None).

    Returns {"C": (k, k, k) tensor, [V_a, V_b] ~ sum_c C[a, b, c] V_c (least squares under
    `inner`); "closure": (k, k) residuals as in the module docstring (0 on the diagonal);
    "closure_span": (k, k) the same residuals |[V_a, V_b] - P [V_a, V_b]| divided instead by the
    largest bracket norm of the span (0 when every bracket vanishes): how far the span as a whole
    is from closing; "bracket_norm": (k, k) |[V_a, V_b]|; "scale": (k, k) |J_ab| + |J_ba|}.
    """
    k = field.n_generators if k is None else int(k)
    if not 1 <= k <= field.n_generators:
        raise ValueError(f"k must be in 1..{field.n_generators}; got {k!r}")
    with torch.no_grad():
        V = field(inner.points)
    return _structure(V[..., :k], jacobian_products(field, inner.points)[:, :, :k, :k], inner)


def nested_closure(field: Field, inner: InnerProduct) -> list[float]:
    """Largest `closure_span` of span{V_1..V_k} for k = 1..N, from one set of Jacobian products."""
    with torch.no_grad():
        V = field(inner.points)
    J = jacobian_products(field, inner.points)
    return [
        float(_structure(V[..., :k], J[:, :, :k, :k], inner)["closure_span"].max())
        for k in range(1, field.n_generators + 1)
    ]


def _structure(V: torch.Tensor, J: torch.Tensor, inner: InnerProduct) -> dict:
    """`structure` from the fields' values V (n, d, k) and their products J (n, d, k, k)."""
    k = V.shape[-1]
    B = J - J.transpose(2, 3)
    MV = _weighted(V, inner)  # (n*d, k)
    MB = _weighted(B, inner).reshape(MV.shape[0], k * k)  # (n*d, k*k)
    coef = torch.linalg.lstsq(MV, MB).solution  # (k, k*k)
    C = coef.T.reshape(k, k, k)
    residual = (MB - MV @ coef).norm(dim=0).reshape(k, k)
    norms = _weighted(J, inner).reshape(MV.shape[0], k * k).norm(dim=0).reshape(k, k)
    scale = norms + norms.T
    closure = torch.where(scale > 1e-12, residual / scale.clamp_min(1e-300), torch.zeros_like(scale))
    bracket_norm = MB.norm(dim=0).reshape(k, k)
    largest = bracket_norm.max()
    closure_span = residual / largest if largest > 1e-12 else torch.zeros_like(residual)
    return {"C": C, "closure": closure, "closure_span": closure_span, "bracket_norm": bracket_norm, "scale": scale}


def change_basis(C: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """The structure constants in the basis W_i = sum_a V_a M[a, i] (M (k, k) invertible):

    C'[i, j, e] = sum_{a, b, c} M[a, i] M[b, j] C[a, b, c] M^-1[e, c]   (V = W M^-1).
    """
    M = M.to(C.dtype)
    return torch.einsum("ai,bj,abc,ec->ije", M, M, C, torch.linalg.inv(M))


def unit_constants(C: torch.Tensor, norms: torch.Tensor) -> torch.Tensor:
    """Constants of the fields W_i (norms n_i) -> those of the unit fields W_i / n_i:
    C^[i, j, e] = C[i, j, e] n_e / (n_i n_j)."""
    n = norms.to(C.dtype)
    return C * n[None, None, :] / (n[:, None, None] * n[None, :, None])


def basis_change(V: torch.Tensor, W: torch.Tensor, inner: InnerProduct) -> torch.Tensor:
    """M (k, k) with V M ~ W in least squares under `inner`: V, W (n, d, k) values at its points."""
    return torch.linalg.lstsq(_weighted(V, inner), _weighted(W, inner)).solution


X = pdes.x, pdes.t, pdes.u


def sympy_bracket(v: tuple, w: tuple, coords=X) -> tuple:
    """[v, w] for vector fields given as component tuples of sympy expressions in `coords`."""
    return tuple(
        sympy.simplify(
            sum(v[j] * sympy.diff(w[i], coords[j]) - w[j] * sympy.diff(v[i], coords[j]) for j in range(len(coords)))
        )
        for i in range(len(coords))
    )


def exact_structure(fields: list[tuple], coords=X, seed: int = 0, digits: int = 40) -> np.ndarray | None:
    """Exact structure constants (k, k, k) of sympy fields (component tuples in `coords`), or None
    when some bracket is not a constant-coefficient combination of the fields.

    Each bracket's coefficients are fitted by least squares at k + 3 random rational points,
    evaluated to `digits` significant digits (mpmath), taken as the rationals they equal to 1e-12,
    and then checked at k + 3 further random points: the bracket minus the combination must vanish
    there to 1e-20 relative to the bracket. (A symbolic solve stalled for over ten minutes on fields
    with exp, sqrt and log of t.) A decimal coefficient (a sympy Float, as a readout prints them) is
    taken as the rational it prints as (0.999 -> 999/1000), whatever its binary precision.
    """
    import mpmath

    fields = [tuple(_decimals_as_rationals(sympy.sympify(c)) for c in f) for f in fields]
    k = len(fields)
    rng = np.random.default_rng(seed)

    def draw(n):
        return [
            dict(zip(coords, [sympy.Rational(int(r), 7) + 1 for r in rng.integers(1, 40, len(coords))]))
            for _ in range(n)
        ]

    fit_points, check_points = draw(k + 3), draw(k + 3)
    functions = [sympy.lambdify(coords, list(f), modules="mpmath") for f in fields]
    C = np.zeros((k, k, k))
    with mpmath.workdps(digits):
        for a, b in itertools.combinations(range(k), 2):
            bracket = sympy.lambdify(coords, list(sympy_bracket(fields[a], fields[b], coords)), modules="mpmath")

            def rows(points, bracket=bracket):
                A, y = [], []
                for p in points:
                    args = [mpmath.mpf(sympy.Rational(p[c]).p) / sympy.Rational(p[c]).q for c in coords]
                    values = [f(*args) for f in functions]
                    target = bracket(*args)
                    for i in range(len(coords)):
                        A.append([mpmath.mpf(values[e][i]) for e in range(k)])
                        y.append(mpmath.mpf(target[i]))
                return mpmath.matrix(A), mpmath.matrix(y)

            A, y = rows(fit_points)
            try:  # least squares by the normal equations, at `digits` digits
                coefficients = mpmath.lu_solve(A.T * A, A.T * y)
            except ZeroDivisionError:  # the fields are dependent at these points
                return None
            values = [sympy.nsimplify(float(v), rational=True, tolerance=1e-12) for v in coefficients]
            A, y = rows(check_points)
            combination = A * mpmath.matrix([mpmath.mpf(v.p) / v.q for v in values])
            scale = max(mpmath.norm(y), mpmath.mpf(1))
            if mpmath.norm(y - combination) > mpmath.mpf(10) ** -20 * scale:
                return None
            C[a, b] = [float(v) for v in values]
            C[b, a] = -C[a, b]
    return C


def _decimals_as_rationals(expr: sympy.Expr) -> sympy.Expr:
    """`expr` with every Float replaced by the rational its decimal string is."""
    return expr.xreplace({f: sympy.Rational(str(f)) for f in expr.atoms(sympy.Float)})


def symmetry_components(symmetry: pdes.Symmetry) -> tuple:
    return symmetry.xi, symmetry.tau, symmetry.phi


# ---------------------------------------------------------------------------------------------
# Spans.


def span_angles(V: torch.Tensor, W: torch.Tensor, inner: InnerProduct) -> dict:
    """Angles in degrees between span V and span W (values (n, d, A), (n, d, B)).

    Returns {"principal": ascending principal angles, "W_in_V": per column of W the angle to
    span V (arccos of its fraction in the span), "V_in_W": per column of V the angle to span W}.
    """
    deg = 180.0 / math.pi
    return {
        "principal": (metrics.principal_angles(V, W, inner) * deg).tolist(),
        "W_in_V": (torch.arccos(metrics.fraction_in_span(W, V, inner).clamp(max=1.0)) * deg).tolist(),
        "V_in_W": (torch.arccos(metrics.fraction_in_span(V, W, inner).clamp(max=1.0)) * deg).tolist(),
    }


# ---------------------------------------------------------------------------------------------
# Symbolic readout.


# Time scales T0 of the library's exponentials exp(+-t/T0): the 1-2-5 series from 1 to 200 time units.
EXP_TIME_SCALES = (1, 2, 5, 10, 20, 50, 100, 200)
# Exponents p of the library's powers (t + 1)^p (p = 1, 2 are polynomials, already in the library).
TIME_POWERS = (sympy.Integer(-1), sympy.Rational(-1, 2), sympy.Rational(1, 2), sympy.Rational(3, 2))


def time_functions() -> list[sympy.Expr]:
    """The readout's elementary functions of t, the same for every equation: (t + 1)^p for p in
    TIME_POWERS, log(t + 1), then exp(-t/T0) and exp(t/T0) for T0 in EXP_TIME_SCALES.

    One list for every equation (KdV, KS, Burgers, nKdV, cKdV and any registered later), fixed
    without reading any equation's symmetries, as the generic forms a time-dependent coefficient
    takes: growth and decay, exp(+-t/T0) with T0 on the 1-2-5 series from 1 time unit (the order of
    the registered PDEs' coefficients) to 200 (twice the longest simulated time; slower rates are
    nearly polynomial over a kept window, faster ones a spike at its edge), and powers and the
    logarithm of t + 1 (the shift 1 keeps them finite from t = 0, where the simulations start;
    half-integer powers are those of self-similar variables). A generic grid still has to contain a
    rate to read it exactly: it contains nKdV's T0 = 50 as it contains 20 and 100, and cKdV's
    (t + 1)^(+-1/2) because its shift is 1; a rate or a shift off the grid (exp(-t/35),
    (t + 3)^(1/2)) is read out only approximately, and `sparse_readout` says how closely (the angle
    between its readout and the input span; tests/test_algebra.py shows both)."""
    t = pdes.t
    powers = [(t + 1) ** p for p in TIME_POWERS]
    exponentials = [sympy.exp(sign * t / T0) for T0 in EXP_TIME_SCALES for sign in (-1, 1)]
    return [*powers, sympy.log(t + 1), *exponentials]


def pde_library(equation: pdes.Equation, fourier: int = 1, degree: int = 2) -> list[tuple[str, sympy.Expr]]:
    """Candidate coefficient functions in physical (x, t, u), simplest first, one list for every
    equation: t^i u^j (i + j <= degree), then cos/sin(2 pi m x / L) times 1, t, u for m = 1..fourier
    (periodic in x: L is the data's period, the only thing read from `equation`), then each of
    `time_functions()` times 1 and u. Nothing here depends on an equation's symmetries; with the
    defaults that is 6 + 6 + 21 * 2 = 54 terms, 162 library fields with d_x, d_t, d_u: too many
    (and, over a short time window, too collinear) for a least-squares readout, so `pde_readout`
    selects sparsely (`sparse_readout`)."""
    x, t, u = X
    monomials = [t**i * u**j for total in range(degree + 1) for j in range(total + 1) for i in [total - j]]
    terms = list(monomials)
    for m in range(1, fourier + 1):
        for trig in (sympy.cos, sympy.sin):
            terms += [trig(2 * sympy.pi * m * x / equation.L) * e for e in monomials[:3]]
    terms += [f * e for f in time_functions() for e in (sympy.Integer(1), u)]
    return [(str(e), sympy.sympify(e)) for e in terms]


def image_library(degree: int = 2) -> list[tuple[str, sympy.Expr]]:
    """Polynomials in the image plane's (x, y) up to `degree`, simplest first."""
    x, y = sympy.symbols("x y", real=True)
    terms = [x**i * y**j for total in range(degree + 1) for j in range(total + 1) for i in [total - j]]
    return [(str(e), e) for e in terms]


_LAMBDIFY = [{"cos": torch.cos, "sin": torch.sin, "exp": torch.exp, "sqrt": torch.sqrt, "log": torch.log}, "math"]


def _library_matrix(terms, coords, points_physical: torch.Tensor, scales) -> torch.Tensor:
    """(n, d, d*T) values of every term * d_{coord}, pushed to the field's coordinates by dividing
    component i by scales[i] (the physical length of one field unit); column i*T + j is term j
    along coordinate i."""
    n, d = points_physical.shape
    values = torch.stack(
        [
            sympy.lambdify(coords, expr, modules=_LAMBDIFY)(*points_physical.unbind(-1))
            + torch.zeros(n, dtype=torch.float64)
            for _, expr in terms
        ],
        dim=-1,
    )  # (n, T)
    out = torch.zeros(n, d, d, len(terms), dtype=torch.float64)
    for i in range(d):
        out[:, i, i] = values / scales[i]
    return out.reshape(n, d, d * len(terms))


def symbolic_readout(
    V: torch.Tensor,
    inner: InnerProduct,
    points_physical: torch.Tensor,
    terms,
    coords,
    scales,
    threshold: float = 0.05,
    digits: int = 3,
) -> dict:
    """A sparse basis of span{V_1..V_k} in the library `terms` (x) d_{coords}.

    V (n, d, k): the fields at the inner product's points (field coordinates); points_physical
    (n, d) the same points in the coordinates of the terms; scales (d,) the physical size of one
    field unit per coordinate. Steps: (1) least squares V ~ Phi Xi with every library column
    scaled to unit norm under `inner`; (2) reduced row echelon form of the span of Xi's columns,
    pivoting through the terms in library order (simplest first) on the largest remaining
    coefficient, so each basis field has a 1 at its own pivot term and 0 at the others'; (3)
    coefficients below `threshold` times the field's largest are dropped (sequential
    thresholding: refit on the kept terms, repeat), the rest rounded to `digits` significant digits.

    Returns {"fields": list of d-tuples of sympy expressions (physical components), "library_fit":
    fraction of |V| the whole library explains, "kept": number of terms per field, "pivots"}.
    """
    n, d, k = V.shape
    Phi = _library_matrix(terms, coords, points_physical, scales)  # (n, d, m)
    MP, MV = _weighted(Phi, inner), _weighted(V, inner)
    col_norm = MP.norm(dim=0).clamp_min(1e-300)
    A = MP / col_norm  # unit columns
    Xi = torch.linalg.lstsq(A, MV).solution  # (m, k)
    fit = float((A @ Xi).norm() / MV.norm())
    # (2) RREF of the row space of Xi^T with pivots taken in library order when large enough
    R = Xi.T.clone()  # (k, m)
    pivots = []
    for row in range(k):
        sub = R[row:]
        size = sub.abs().max()
        j = next(j for j in range(R.shape[1]) if j not in pivots and sub[:, j].abs().max() > 0.1 * size)
        r = row + int(sub[:, j].abs().argmax())
        R[[row, r]] = R[[r, row]]
        R[row] = R[row] / R[row, j]
        for other in range(k):
            if other != row:
                R[other] = R[other] - R[other, j] * R[row]
        pivots.append(j)
    # (3) sequential thresholding of each basis field, refitting on its kept terms
    fields, kept = [], []
    for row in range(k):
        target = A @ R[row]  # the basis field itself
        support = R[row].abs() >= threshold * R[row].abs().max()
        support[pivots[row]] = True  # a field keeps its pivot
        for _ in range(10):
            coef = torch.zeros_like(R[row])
            coef[support] = torch.linalg.lstsq(A[:, support], target[:, None]).solution[:, 0]
            new = coef.abs() >= threshold * coef.abs().max()
            if torch.equal(new, support):
                break
            support = new & support
            support[pivots[row]] = True
        coef = coef / col_norm  # back to the terms' units
        coef = coef / coef[pivots[row]]
        comps = [sympy.Integer(0)] * d
        m = len(terms)
        for i in range(d):
            for j, (_, expr) in enumerate(terms):
                value = float(f"{float(coef[i * m + j]):.{digits}g}")
                if value != 0.0:
                    number = sympy.Integer(int(value)) if value == int(value) else sympy.Float(value, digits)
                    comps[i] += number * expr
        fields.append(tuple(comps))
        kept.append(int(support.sum()))
    return {"fields": fields, "library_fit": fit, "kept": kept, "pivots": pivots}


def _smallest_ratio(G: torch.Tensor, H: torch.Tensor, floor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """For batches of small symmetric matrices G, H (B, s, s), G positive semi-definite: the
    smallest ratio c^T H c / c^T G c over the directions c where G is not numerically singular
    (G's eigenvalues below `floor` are left out), and its c (B, s) with c^T G c = 1. A batch whose
    G is singular in every direction gets ratio inf."""
    g, U = torch.linalg.eigh(G)
    bad = g < floor
    W = U / g.clamp_min(floor).sqrt()[..., None, :]
    M = W.transpose(-1, -2) @ H @ W
    M = M.masked_fill(bad[..., :, None] | bad[..., None, :], 0.0)
    big = 1e300
    M = M + torch.diag_embed(bad.to(M.dtype) * big)
    lam, Y = torch.linalg.eigh(M)
    c = (W @ Y[..., :1])[..., 0]
    ratio = torch.where(lam[..., 0] >= big / 2, torch.full_like(lam[..., 0], math.inf), lam[..., 0].clamp_min(0.0))
    return ratio, c


def _extend(supports: torch.Tensor, m: int) -> torch.Tensor:
    """Every support (B, s) with one more column of 0..m-1 not in it, sorted and without repeats."""
    B, s = supports.shape
    new = torch.cat([supports.repeat_interleave(m, 0), torch.arange(m).repeat(B)[:, None]], dim=1)
    new = new[(new[:, :-1] != new[:, -1:]).all(1)]
    return torch.unique(new.sort(dim=1).values, dim=0)


def sparse_readout(
    V: torch.Tensor,
    inner: InnerProduct,
    points_physical: torch.Tensor,
    terms,
    coords,
    scales,
    tolerance_deg: float = 0.5,
    max_terms: int = 4,
    digits: int = 3,
    beam: int = 64,
    floor: float = 1e-8,
) -> dict:
    """A basis of span{V_1..V_k} of library fields with as few terms as the span allows: the
    readout of a large, ill-conditioned library (`pde_library`), by sparse selection instead of
    least squares.

    V (n, d, k): the fields at the inner product's points (field coordinates); points_physical
    (n, d) the same points in the coordinates of the terms; scales (d,) the physical size of one
    field unit per coordinate. The library fields are the terms times d_{coord}, each scaled to unit
    norm under `inner`. The basis is chosen one field at a time. With C the fields chosen so far,
    a candidate is a support S of library fields with the combination f = Phi_S c whose part new to
    C, g = (1 - P_C) f, makes the smallest angle with span V (a generalized eigenvalue problem of
    the Gram matrices restricted to S, so near-collinear library fields cost no accuracy: only
    combinations with |g| below sqrt(floor) are left out, as not new). Every support of one and two
    fields is tried; larger ones (up to `max_terms`) by a beam search: the `beam` best supports of
    each size extended by every library field. The field taken is the one of the fewest terms whose
    angle is within `tolerance_deg` of the best angle any candidate reaches (for exact fields in the
    library the best is 0, and the sparsest exact field is taken; for a span the library cannot
    hold exactly, the sparsest field about as close as any), ties to the smaller angle. Its terms
    below 1e-6 of its largest (unit-norm) part are dropped, the rest scaled so that its earliest
    term in library order has coefficient 1 and rounded to `digits` significant digits.

    Returns {"fields": list of d-tuples of sympy expressions (physical components), "kept": number of
    terms per field, "terms": the library fields of each (e.g. "exp(-t/50) d_t"), "angles_deg": the
    angle of each field's new part to span V, "span_angle_deg": the largest principal angle between
    the span of the rounded readout fields and span V (how close the readout gets), "library_fit":
    fraction of |V| the whole library explains (least squares)}.
    """
    n, d, k = V.shape
    if isinstance(max_terms, bool) or not isinstance(max_terms, int) or max_terms < 1:
        raise ValueError(f"max_terms must be a positive integer; got {max_terms!r}")
    if not 0 <= tolerance_deg < 90:
        raise ValueError(f"tolerance_deg must lie in [0, 90); got {tolerance_deg!r}")
    Phi = _library_matrix(terms, coords, points_physical, scales)  # (n, d, m)
    MP, MV = _weighted(Phi, inner), _weighted(V, inner)
    col_norm = MP.norm(dim=0).clamp_min(1e-300)
    A = MP / col_norm  # unit library fields
    m, T = A.shape[1], len(terms)
    fit = float((metrics._orthonormal_basis(A, rtol=1e-12).T @ MV).norm() / MV.norm())
    QV = metrics._orthonormal_basis(MV)
    outside = A - QV @ (QV.T @ A)
    H = outside.T @ outside  # |(1 - P_V) f|^2 as a quadratic form in the coefficients
    chosen = torch.zeros(m, 0, dtype=torch.float64)
    fields, kept, names, angles = [], [], [], []
    for _ in range(k):
        if chosen.shape[1]:
            QC = metrics._orthonormal_basis(A @ chosen)
            new = A - QC @ (QC.T @ A)
        else:
            new = A
        G = new.T @ new  # |(1 - P_C) f|^2
        found = []  # (size, ratio, support, c) of every candidate tried
        supports = torch.arange(m)[:, None]
        for size in range(1, max_terms + 1):
            if size == 2:
                supports = torch.combinations(torch.arange(m), 2)
            elif size > 2:
                best = found[-1][1].argsort()[:beam]
                supports = _extend(found[-1][2][best], m)
            idx = supports[:, :, None], supports[:, None, :]
            ratio, c = _smallest_ratio(G[idx], H[idx], floor)
            found.append((size, ratio, supports, c))
        best_all = min(float(r.min()) for _, r, _, _ in found)
        if not math.isfinite(best_all):
            break  # no library field adds a direction
        limit = math.sin(min(math.asin(min(math.sqrt(best_all), 1.0)) + math.radians(tolerance_deg), math.pi / 2))
        _, ratio, supports, c = next(entry for entry in found if float(entry[1].min()) <= max(limit**2, best_all))
        j = int(ratio.argmin())
        coef = torch.zeros(m, dtype=torch.float64)
        coef[supports[j]] = c[j]
        chosen = torch.cat([chosen, coef[:, None]], dim=1)
        angles.append(math.degrees(math.asin(min(math.sqrt(float(ratio[j])), 1.0))))
        # the field in the terms' units (terms below 1e-6 of its largest unit-norm part dropped),
        # its earliest term (by term, then coordinate) set to 1
        support = [col for col in supports[j].tolist() if abs(coef[col]) > 1e-6 * coef.abs().max()]
        support.sort(key=lambda col: (col % T, col // T))
        coef = coef / col_norm
        coef = coef / coef[support[0]]
        coef[[col for col in range(m) if col not in support]] = 0.0
        comps = [sympy.Integer(0)] * d
        for col in support:
            value = float(f"{float(coef[col]):.{digits}g}")
            coef[col] = value
            if value != 0.0:
                number = sympy.Integer(int(value)) if value == int(value) else sympy.Float(value, digits)
                comps[col // T] += number * terms[col % T][1]
        fields.append(tuple(comps))
        kept.append(len(support))
        names.append([f"{terms[col % T][0]} d_{coords[col // T]}" for col in support])
        chosen[:, -1] = coef * col_norm  # the rounded field, for the span angle below
    span_angle = math.nan
    if chosen.shape[1]:
        cos = torch.linalg.svdvals(QV.T @ metrics._orthonormal_basis(A @ chosen)).clamp(max=1.0)
        span_angle = math.degrees(float(torch.arccos(cos.min())))
    return {
        "fields": fields,
        "kept": kept,
        "terms": names,
        "angles_deg": angles,
        "span_angle_deg": span_angle,
        "library_fit": fit,
    }


def pde_readout(equation: pdes.Equation, V: torch.Tensor, inner: InnerProduct, **kwargs) -> dict:
    """`sparse_readout` of PDE fields V (n, 3, k) in normalised coordinates over `pde_library`
    (the same library for every equation), in physical units."""
    z = inner.points.to(torch.float64)
    physical = torch.stack(equation.denormalise(z[:, 0], z[:, 1], z[:, 2]), dim=-1)
    return sparse_readout(V, inner, physical, pde_library(equation), X, equation.scales, **kwargs)


def readout_field(equation: pdes.Equation, fields: list[tuple], names=None) -> FunctionField:
    """Physical sympy fields as one FunctionField in the equation's normalised coordinates."""
    syms = [pdes.Symmetry(names[i] if names else f"R{i + 1}", *f, "exact") for i, f in enumerate(fields)]
    parts = [equation.normalised_field(s) for s in syms]
    return FunctionField(lambda z: torch.stack([p(z) for p in parts], dim=-1), len(parts), 3, [s.name for s in syms])


def format_field(components: tuple, names=("x", "t", "u")) -> str:
    """'xi d_x + tau d_t + phi d_u' with zero parts left out and unit coefficients not written."""
    parts = []
    for c, n in zip(components, names):
        if c == 0:
            continue
        text = sympy.sstr(c)
        parts.append(f"d_{n}" if c == 1 else f"({text}) d_{n}" if isinstance(c, sympy.Add) else f"{text} d_{n}")
    return " + ".join(parts) if parts else "0"


# ---------------------------------------------------------------------------------------------
# Counting.


RULES = ("bound", "midpoint")


def validity_threshold(
    exact: list[float],
    controls: list[float],
    rule: str = "bound",
    margin_exact: float = 0.5,
    margin_control: float = 2.0,
) -> float:
    """The validity at or below which a learned field counts as a symmetry, from the validities of
    the exact symmetries and of the controls (lower is more valid).

    rule "bound": min(worst exact symmetry + margin_exact, best control - margin_control), the
    acceptance bound of notebook 02 (it can lie below the floor when a control is nearly valid);
    rule "midpoint": halfway between the worst exact symmetry and the best control (a learned
    field closer to the symmetries than to the controls counts). Another rule, or no exact
    symmetry or control, is a ValueError.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
    if not exact or not controls:
        raise ValueError(f"a threshold needs exact and control validities; got {len(exact)} and {len(controls)}")
    if rule == "bound":
        return min(max(exact) + margin_exact, min(controls) - margin_control)
    return (max(exact) + min(controls)) / 2


def count_symmetries(
    learned: list[float],
    exact: list[float],
    controls: list[float],
    margin_exact: float = 0.5,
    margin_control: float = 2.0,
    rule: str = "bound",
) -> int:
    """How many of V_1, V_2, ... (in order) are symmetries by validity: the largest c such that
    V_1..V_c all have validity at most `validity_threshold(exact, controls, rule, ...)`."""
    threshold = validity_threshold(exact, controls, rule, margin_exact, margin_control)
    count = 0
    for v in learned:
        if v > threshold:
            break
        count += 1
    return count


def independent_fields(values: torch.Tensor, inner: InnerProduct, candidates, min_angle_deg: float = 10.0) -> list[int]:
    """The columns of `values` (n, d, k) among `candidates` (indices, in order) kept greedily: a
    candidate is kept when its angle to the span of those kept before is at least `min_angle_deg`
    (the first always is). len(result) is the dimension the candidates span at that tolerance.
    An index outside 0..k-1 is an IndexError; min_angle_deg outside (0, 90] a ValueError."""
    if not 0 < min_angle_deg <= 90:
        raise ValueError(f"min_angle_deg must lie in (0, 90]; got {min_angle_deg}")
    kept: list[int] = []
    for a in candidates:
        if not 0 <= a < values.shape[-1]:
            raise IndexError(f"candidate {a} is not a column of values (k = {values.shape[-1]})")
        if not kept or span_angles(values[..., kept], values[..., a : a + 1], inner)["W_in_V"][0] >= min_angle_deg:
            kept.append(a)
    return kept
