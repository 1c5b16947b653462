"""Vector fields on R^d that serve as infinitesimal generators, and inner products between them.

A *field* here is any nn.Module with attributes `dim` (d) and `n_generators` (N) and two methods:

    field(z)                 z (n, d)    -> (n, d, N)   every generator at the same points
    field.per_generator(z)   z (N, n, d) -> (N, n, d)   generator a evaluated at z[a] only

The second form is what a flow needs: each generator moves its own copy of the points.

    GeneratorField   the learnable multi-head MLP of the paper
    FunctionField    a fixed field from a callable (affine fields, known Lie point symmetries)
    Scaled           a field with each generator multiplied by a number
    normalise        a field divided by its norms under an InnerProduct (a Scaled)
    orthonormalise   Gram-Schmidt of a field's generators under an InnerProduct (a FunctionField)
    sample_points    points drawn from a cloud of points, the support of an InnerProduct
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from . import io


def _check_dim(z: torch.Tensor, shape_text: str, ndim: int, d: int, name: str = "z") -> None:
    if z.ndim != ndim or z.shape[-1] != d:
        raise ValueError(f"{name} must have shape {shape_text} with d={d}; got {tuple(z.shape)}")


class Field(nn.Module):
    """Base class: subclasses implement `forward`; `per_generator` defaults to the diagonal of it."""

    dim: int
    n_generators: int

    def _check_generator_points(self, z: torch.Tensor) -> None:
        _check_dim(z, "(N, n, d)", 3, self.dim)
        if z.shape[0] != self.n_generators:
            raise ValueError(f"z must have N={self.n_generators} rows of points; got {z.shape[0]}")

    def per_generator(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, n, d) -> (N, n, d): generator a at the points z[a]."""
        self._check_generator_points(z)
        values = self(z.reshape(-1, self.dim)).reshape(self.n_generators, z.shape[1], self.dim, self.n_generators)
        return torch.stack([values[a, :, :, a] for a in range(self.n_generators)])


class GeneratorField(Field):
    """N vector fields on R^d from one MLP: a shared trunk and one small head per generator.

    trunk: Linear(d', width) - SiLU - Linear(width, width) - SiLU
    head a: Linear(width, head_width) - SiLU - Linear(head_width, d)
    where d' = d + len(periodic): each periodic coordinate z_k (period 1) enters as
    (cos 2 pi z_k, sin 2 pi z_k), so every generator is 1-periodic in it.

    affine: None (the paper's field), or {"centre": (c_1..c_d), "scale": (s_1..s_d)}, which adds
    to generator a a linear map of the non-periodic coordinates, y_k = s_k (z_k - c_k):
        V_a(z) = head_a(trunk(z)) + A_a^T y,    A_a (d - len(periodic), d), zero at the start;
    s_k = 0 leaves coordinate k out of it (periodic coordinates are always left out).
    The MLP alone learns fields linear in a coordinate far more slowly than constants: at
    initialisation the sensitivity of V's projection on t d_x to the weights is 1/30 of that on
    a constant field (docs/decisions.md D1). With A, linear fields such as a Galilean boost's
    t d_x are as quick to learn as translations; with Adam, s is the learning rate of A's
    field relative to the MLP's (pick s_k to give y_k a spread of order one).

    inputs: None (the paper's: the MLP sees the coordinates as given), or {"centre", "scale"} like
    `affine`: the MLP sees s_k (z_k - c_k) for the non-periodic k (s_k = 0: z_k as given). A
    coordinate confined to [0, 1] barely bends the SiLU units at initialisation, so fields whose
    components curve in it (nKdV's exp(-t/50) d_t) are slow to learn; a unit spread bends them.
    """

    def __init__(
        self,
        dim: int,
        n_generators: int,
        width: int = 256,
        head_width: int = 32,
        periodic: tuple[int, ...] = (),
        affine: dict | None = None,
        inputs: dict | None = None,
    ):
        super().__init__()
        for name, value in (("dim", dim), ("n_generators", n_generators), ("width", width), ("head_width", head_width)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if any(k not in range(dim) for k in periodic):
            raise ValueError(f"periodic must list coordinates in 0..{dim - 1}; got {periodic!r}")
        self.dim, self.n_generators = dim, n_generators
        self.periodic = tuple(periodic)
        self.plain = [k for k in range(dim) if k not in self.periodic]
        affine, inputs = (_centre_scale(value, dim, name) for value, name in ((affine, "affine"), (inputs, "inputs")))
        if affine is not None:
            self.register_buffer("centre", torch.tensor(affine["centre"])[self.plain])
            self.register_buffer("scale", torch.tensor(affine["scale"])[self.plain])
            self.A = nn.Parameter(torch.zeros(n_generators, len(self.plain), dim))
        self.affine, self.inputs = affine, inputs
        if inputs is not None:
            scale = torch.tensor(inputs["scale"])[self.plain]
            self.register_buffer("input_centre", torch.tensor(inputs["centre"])[self.plain] * (scale != 0))
            self.register_buffer("input_scale", torch.where(scale != 0, scale, torch.ones_like(scale)))
        self.config = {
            "dim": dim,
            "n_generators": n_generators,
            "width": width,
            "head_width": head_width,
            "periodic": self.periodic,
            "affine": affine,
            **({"inputs": inputs} if inputs is not None else {}),
        }
        d_in = dim + len(self.periodic)
        self.trunk = nn.Sequential(nn.Linear(d_in, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU())
        # Heads stored as stacked weights so that all N heads run in one batched matmul.
        self.w1, self.b1 = _stacked_linear(n_generators, width, head_width)
        self.w2, self.b2 = _stacked_linear(n_generators, head_width, dim)

    def _embed(self, z: torch.Tensor) -> torch.Tensor:
        """(..., d) -> (..., d + len(periodic)): plain coordinates (scaled by `inputs`), then cos and
        sin of periodic ones."""
        plain = _columns(z, self.plain)
        if self.inputs is not None:
            plain = (plain - self.input_centre) * self.input_scale
        if not self.periodic:
            return plain
        angles = 2 * math.pi * _columns(z, self.periodic)
        return torch.cat([plain, torch.cos(angles), torch.sin(angles)], dim=-1)

    def _plus_linear(self, out: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """out, z (N, n, d) -> out_a + A_a^T y(z_a), y_k = scale_k (z_k - centre_k) over the
        non-periodic k; `out` itself when the field has no linear part."""
        if self.affine is None:
            return out
        y = self.scale * (_columns(z, self.plain) - self.centre)
        return out + torch.einsum("ank,akd->and", y, self.A)

    def _heads(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden (N, n, width) -> (N, n, d): head a applied to hidden[a]."""
        h = nn.functional.silu(torch.baddbmm(self.b1[:, None, :], hidden, self.w1))
        return torch.baddbmm(self.b2[:, None, :], h, self.w2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (n, d) -> (n, d, N)."""
        _check_dim(z, "(n, d)", 2, self.dim)
        hidden = self.trunk(self._embed(z))
        N = self.n_generators
        return self._plus_linear(self._heads(hidden.expand(N, *hidden.shape)), z.expand(N, *z.shape)).permute(1, 2, 0)

    def per_generator(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, n, d) -> (N, n, d): the trunk on every point, head a on z[a] only."""
        self._check_generator_points(z)
        return self._plus_linear(self._heads(self.trunk(self._embed(z))), z)


def _centre_scale(value, dim: int, name: str) -> dict | None:
    """None, or {"centre": d floats, "scale": d floats} checked; anything else is a ValueError naming `name`."""
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or set(value) != {"centre", "scale"}
        or any(not isinstance(value[key], (list, tuple)) or len(value[key]) != dim for key in value)
    ):
        raise ValueError(f"{name} must be None or {{'centre': {dim} numbers, 'scale': {dim} numbers}}; got {value!r}")
    return {key: [float(c) for c in value[key]] for key in ("centre", "scale")}


def _columns(z: torch.Tensor, index) -> torch.Tensor:
    """z[..., index] for a list of coordinates; a slice (a view, no gather) when they are consecutive."""
    index = list(index)
    if index and index == list(range(index[0], index[0] + len(index))):
        return z[..., index[0] : index[0] + len(index)]
    return z[..., index]


def _stacked_linear(n: int, fan_in: int, fan_out: int) -> tuple[nn.Parameter, nn.Parameter]:
    """N independent Linear(fan_in, fan_out) layers, PyTorch's default init: W (N, in, out), b (N, out)."""
    layers = [nn.Linear(fan_in, fan_out) for _ in range(n)]
    return (
        nn.Parameter(torch.stack([l.weight.detach().T for l in layers]).contiguous()),
        nn.Parameter(torch.stack([l.bias.detach() for l in layers])),
    )


class FunctionField(Field):
    """A fixed field from a callable `fn`: (n, d) -> (n, d, N). No parameters."""

    def __init__(self, fn, n_generators: int, dim: int, names: list[str] | None = None):
        super().__init__()
        if n_generators <= 0:
            raise ValueError(f"n_generators must be positive; got {n_generators}")
        self.fn, self.n_generators, self.dim = fn, n_generators, dim
        self.names = list(names) if names is not None else [f"V{a + 1}" for a in range(n_generators)]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _check_dim(z, "(n, d)", 2, self.dim)
        return self.fn(z)


AFFINE_NAMES = ["translate x", "translate y", "scale x", "scale y", "shear x by y", "shear y by x"]


def _affine(z: torch.Tensor) -> torch.Tensor:
    x, y = z[:, 0], z[:, 1]
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    cols = [(one, zero), (zero, one), (x, zero), (zero, y), (y, zero), (zero, x)]
    return torch.stack([torch.stack(c, dim=-1) for c in cols], dim=-1)


def affine_fields() -> FunctionField:
    """The 6 affine fields of the plane: (1,0), (0,1), (x,0), (0,y), (y,0), (0,x).

    Rotation is (-y, x) = field 6 - field 5; uniform scaling is field 3 + field 4.
    """
    return FunctionField(_affine, 6, 2, AFFINE_NAMES)


def grid_points(height: int, width: int, dtype=torch.float32) -> torch.Tensor:
    """Pixel centres of an (height x width) image in [-1, 1]^2, shape (height*width, 2).

    Row-major: point k is pixel (k // width, k % width); column 0 is x (horizontal), column 1
    is y (vertical, growing downwards), matching `torch.nn.functional.grid_sample` with
    align_corners=True.
    """
    ys, xs = torch.meshgrid(
        torch.linspace(-1, 1, height, dtype=dtype), torch.linspace(-1, 1, width, dtype=dtype), indexing="ij"
    )
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1)


class InnerProduct:
    """<V, W> = sum_p w(p) V(p).W(p) / sum_p w(p) over fixed points p (shape (n, d)).

    With `weights=None` this is the empirical mean over the points (the PDE inner product);
    with pixel-grid points and data-driven weights it is the image inner product.
    """

    def __init__(self, points: torch.Tensor, weights: torch.Tensor | None = None):
        if points.ndim != 2:
            raise ValueError(f"points must have shape (n, d); got {tuple(points.shape)}")
        if weights is None:
            weights = torch.ones(points.shape[0], dtype=points.dtype, device=points.device)
        if weights.shape != points.shape[:1] or bool((weights < 0).any()) or float(weights.sum()) <= 0:
            raise ValueError(f"weights must be non-negative with shape ({points.shape[0]},) and a positive sum")
        self.points = points
        self.weights = weights / weights.sum()

    def gram(self, V: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        """V (n, d, A), W (n, d, B) -> (A, B) matrix of inner products."""
        return torch.einsum("p,pia,pib->ab", self.weights.to(V.dtype), V, W)

    def squared_norms(self, V: torch.Tensor) -> torch.Tensor:
        """V (n, d, A) -> (A,) squared norms <V_a, V_a>."""
        return torch.einsum("p,pia,pia->a", self.weights.to(V.dtype), V, V)

    def norms(self, V: torch.Tensor) -> torch.Tensor:
        """V (n, d, A) -> (A,) norms."""
        return self.squared_norms(V).sqrt()

    def evaluate(self, field: Field) -> torch.Tensor:
        """The field at the inner product's points, (n, d, N)."""
        return field(self.points)


class Scaled(Field):
    """`field` with generator a multiplied by scale[a]: V_a -> scale_a V_a (scale (N,) kept as given,
    so gradients reach the parameters it was computed from)."""

    def __init__(self, field: Field, scale: torch.Tensor):
        super().__init__()
        if scale.shape != (field.n_generators,):
            raise ValueError(f"scale must have shape ({field.n_generators},); got {tuple(scale.shape)}")
        self.field, self.scale = field, scale
        self.dim, self.n_generators = field.dim, field.n_generators

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.field(z) * self.scale.to(z.dtype)

    def per_generator(self, z: torch.Tensor) -> torch.Tensor:
        return self.field.per_generator(z) * self.scale.to(z.dtype)[:, None, None]


def normalise(field: Field, inner: InnerProduct, eps: float = 1e-12, at_points: torch.Tensor | None = None) -> Scaled:
    """`field` with each generator divided by its norm under `inner` (norms below eps count as eps).

    The norms are computed once, here, and differentiably: a field whose parameters change (a
    training iteration) needs a new `normalise` after each change. at_points: field(inner.points)
    (n, d, N) when the caller has it already (it is reused, not recomputed).
    """
    values = field(inner.points) if at_points is None else at_points
    return Scaled(field, 1.0 / inner.norms(values).clamp_min(eps))


def orthonormal_coefficients(gram: torch.Tensor, what: str = "the generators") -> torch.Tensor:
    """M = L^-T for a Gram matrix G = L L^T (Cholesky), float64 (N, N), upper triangular.

    For fields V with <V, V> = G, W = V M is orthonormal and W_a combines V_1..V_a only
    (Gram-Schmidt in the given order). Raises ValueError naming `what` when G is not positive
    definite (eigenvalue <= 1e-10 of the largest diagonal entry: linearly dependent fields).
    """
    gram = gram.to(torch.float64)
    L, info = torch.linalg.cholesky_ex(gram)
    if info != 0 or float(torch.linalg.eigvalsh(gram).min()) <= 1e-10 * float(gram.diagonal().max()):
        raise ValueError(
            f"{what} are (nearly) linearly dependent on the inner product's points; "
            f"Gram eigenvalues {torch.linalg.eigvalsh(gram).tolist()}"
        )
    return torch.linalg.inv(L).T


def orthonormalise(field: Field, inner: InnerProduct) -> FunctionField:
    """The fixed field W = V M, M = `orthonormal_coefficients` of <V, V> (in float64):
    <W_a, W_b> = delta_ab under `inner`, span and order of `field`'s generators kept; names kept."""
    with torch.no_grad():
        V = inner.evaluate(field).to(torch.float64)
        M = orthonormal_coefficients(inner.gram(V, V), f"the {field.n_generators} generators")

    def fn(z: torch.Tensor) -> torch.Tensor:
        return field(z) @ M.to(z.dtype)

    return FunctionField(fn, field.n_generators, field.dim, getattr(field, "names", None))


def sample_points(points: torch.Tensor, n: int, generator: torch.Generator, replace: bool = False) -> torch.Tensor:
    """n of the points (..., d), as (n, d): distinct ones (all of them, permuted, when there are
    fewer than n), or with replacement when `replace`."""
    flat = points.reshape(-1, points.shape[-1])
    if replace:
        return flat[torch.randint(flat.shape[0], (n,), generator=generator)]
    return flat[torch.randperm(flat.shape[0], generator=generator)[:n].to(flat.device)]


def save(field: GeneratorField, path, **metadata) -> Path:
    """Save a GeneratorField's configuration, weights and any metadata (atomically) to `path`."""
    if not isinstance(field, GeneratorField):
        raise ValueError(f"field must be a GeneratorField; got {type(field).__name__}")
    with io.atomic_path(path) as tmp:
        torch.save({"config": field.config, "state_dict": field.state_dict(), "metadata": metadata}, tmp)
    return Path(path)


def load(path, map_location="cpu") -> GeneratorField:
    """Load a field saved by `save`; its metadata is in the attribute `metadata`."""
    blob = torch.load(io.note_input(path), map_location=map_location, weights_only=False)
    field = GeneratorField(**blob["config"])
    field.load_state_dict(blob["state_dict"])
    field.metadata = blob["metadata"]
    return field
