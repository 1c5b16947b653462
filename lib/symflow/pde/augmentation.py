"""Symmetry data augmentation of PDE trajectories with any set of generators, learned or known.

    load_learned(path, equation, k)           the first k generators of a notebook-02 file, checked
    prepare(field, u)                         orthonormalise (and optionally tabulate) a field
    transform(u, field, coefficients)         flow each graph along sum_a c_a V_a, resample
    augment(u, field, task, n_copies, scale)  a TrajectoryPool of transformed copies
    equivariance_error(model, u, field, c)    |f(g u) - g f(u)| / |f(u)| per trajectory

Everything is in the learner's normalised coordinates (`symflow.pde.pdes`): a trajectory u
(nt, nx) is the graph of points (i/nx, j/nt, c u_ij). A copy: draw c_a ~ U(-scale, scale) per
generator, move every graph point along the combined field W = sum_a c_a V_a for unit time
(RK4, `flows.flow`), resample to the grid (`pde_graphs.resample_graph`: periodic sinc in x, linear
in t), keep the longest run of time rows the moved graph still covers, and reject the copy when
the task's window no longer fits in it. Learned and known generators take the same path: both
are orthonormalised under the mean inner product over data graph points (Gram-Schmidt in their
given order, so span and order are kept), then used identically.
"""

from __future__ import annotations

import math
import warnings

import torch

from .. import flows, generators
from ..generators import Field, FunctionField, InnerProduct
from . import pde_graphs
from .fno import Task, TrajectoryPool


class Tabulated(Field):
    """A field on (x, t, u) sampled once on a lattice and interpolated trilinearly afterwards.

    x is periodic on [0, 1) (shape[0] cells, the first column repeated at x = 1); t and u span
    the given ranges (shape[1], shape[2] points) and are clamped outside. Exact for fields affine
    in (x, t, u) on the lattice's range; for a smooth field the error is O(h^2 |V''|). It makes a
    learned MLP as cheap as a closed-form field when thousands of copies are flowed.
    """

    def __init__(
        self,
        field: Field,
        t_range: tuple[float, float],
        u_range: tuple[float, float],
        shape: tuple[int, int, int] = (64, 48, 48),
    ):
        super().__init__()
        if field.dim != 3:
            raise ValueError(f"field must act on (x, t, u) (dim 3); got dim {field.dim}")
        if len(shape) != 3 or min(shape) < 2:
            raise ValueError(f"shape must be three lattice sizes >= 2; got {shape!r}")
        self.dim, self.n_generators = 3, field.n_generators
        self.names = getattr(field, "names", None)
        self.lo = torch.tensor([0.0, t_range[0], u_range[0]], dtype=torch.float64)
        self.hi = torch.tensor([1.0, t_range[1], u_range[1]], dtype=torch.float64)
        axes = [
            torch.linspace(float(a), float(b), n + (k == 0), dtype=torch.float64)
            for k, (a, b, n) in enumerate(zip(self.lo, self.hi, shape))
        ]
        xs, ts, us = torch.meshgrid(axes[0], axes[1], axes[2], indexing="ij")
        with torch.no_grad():
            values = field(torch.stack([xs, ts, us], -1).reshape(-1, 3).to(torch.float32)).double()
        table = values.reshape(*xs.shape, 3 * self.n_generators)  # (X, T, U, 3N), channel d N + a
        table[-1] = table[0]  # x = 1 is x = 0
        # grid_sample layout (1, C, D, H, W) with (W, H, D) <- (x, t, u).
        self.register_buffer("table", table.permute(3, 2, 1, 0)[None].to(torch.float32).contiguous())

    def _sample(self, table: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """table (B, C, U, T, X+1) at points z (B, n, 3) -> (B, C, n)."""
        lo, hi = self.lo.to(z), self.hi.to(z)
        zz = torch.cat([torch.remainder(z[..., :1], 1.0), z[..., 1:]], -1)
        return flows.grid_lookup(table if table.dtype == z.dtype else table.to(z.dtype), 2 * (zz - lo) / (hi - lo) - 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (n, 3) -> (n, 3, N)."""
        if z.ndim != 2 or z.shape[-1] != 3:
            raise ValueError(f"z must have shape (n, 3); got {tuple(z.shape)}")
        return self._sample(self.table, z[None])[0].reshape(3, self.n_generators, -1).permute(2, 0, 1)

    def combined(self, coefficients: torch.Tensor):
        """z (B, n, 3) -> sum_a c[b, a] V_a(z[b]) (B, n, 3), sampling one combined table per row b
        (3 channels instead of 3N: the same values, interpolation being linear)."""
        c = coefficients.to(self.table.dtype)
        table = torch.einsum("ba,dauth->bduth", c, self.table[0].reshape(3, self.n_generators, *self.table.shape[2:]))
        cast = {}

        def fn(z: torch.Tensor) -> torch.Tensor:
            if z.dtype not in cast:
                cast[z.dtype] = table.to(z.dtype)
            return self._sample(cast[z.dtype], z).transpose(1, 2)

        return fn


def load_learned(path, equation: str, k: int, nx: int | None = None) -> FunctionField:
    """The first k generators (most valid first, notebook 02's order) saved at `path`.

    Raises ValueError when the file records another equation or another grid (metadata
    `equation`, `nx`), or holds fewer than k generators on (x, t, u); warns when it records no
    equation.
    """
    field = generators.load(path)
    meta = getattr(field, "metadata", None) or {}
    if meta.get("equation", equation) != equation:
        raise ValueError(f"{path} holds generators of {meta['equation']!r}, not {equation!r}")
    if nx is not None and "nx" in meta and int(meta["nx"]) != nx:
        raise ValueError(f"{path} was learned on an nx={meta['nx']} grid; the data have nx={nx}")
    if field.dim != 3 or field.n_generators < k:
        raise ValueError(f"{path}: need >= {k} generators on (x, t, u); got {field.n_generators} on dim {field.dim}")
    if "equation" not in meta:
        warnings.warn(f"{path} does not record its equation; assuming {equation}", stacklevel=2)
    return FunctionField(lambda z: field(z)[..., :k], k, 3)


def prepare(
    field: Field, u: torch.Tensor, n_points: int = 8192, table: tuple[int, int, int] | None = None, seed: int = 0
) -> Field:
    """The field augmentation uses: `field` orthonormalised under the mean inner product over
    n_points graph points of the trajectories u (n, nt, nx), then, when `table` is given,
    tabulated on that lattice (t in [-0.5, 1.5], u over the data's range widened by half of it;
    float32 table values)."""
    if field.dim != 3:
        raise ValueError(f"field must act on (x, t, u) (dim 3); got dim {field.dim}")
    points = generators.sample_points(
        pde_graphs.grid_graph(u), n_points, torch.Generator().manual_seed(seed), replace=True
    )
    ortho = generators.orthonormalise(field, InnerProduct(points.to(torch.float32)))
    if table is None:
        return ortho
    lo, hi = float(u.min()), float(u.max())
    pad = 0.5 * (hi - lo)
    return Tabulated(ortho, (-0.5, 1.5), (lo - pad, hi + pad), tuple(table))


def _combined(field: Field, coefficients: torch.Tensor):
    """z (B, n, 3) -> sum_a c[b, a] V_a(z[b]): the field each copy flows along."""

    if isinstance(field, Tabulated):
        return field.combined(coefficients)

    def fn(z: torch.Tensor) -> torch.Tensor:
        V = field(z.reshape(-1, 3)).reshape(z.shape[0], -1, field.n_generators)  # (B, 3n, N)
        return torch.bmm(V, coefficients.to(V.dtype)[:, :, None]).reshape(z.shape)

    return fn


def transform(
    u: torch.Tensor, field: Field, coefficients: torch.Tensor, steps: int = 4, method: str = "sinc"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flow the graph of each u[b] (B, nt, nx) along sum_a coefficients[b, a] V_a for unit time.

    Returns (u', covered) from `pde_graphs.resample_graph`: u' (B, nt, nx), covered (B, nt) bool.
    """
    if coefficients.shape != (u.shape[0], field.n_generators):
        raise ValueError(
            f"coefficients must have shape ({u.shape[0]}, {field.n_generators}); got {tuple(coefficients.shape)}"
        )
    b, nt, nx = u.shape
    with torch.no_grad():
        moved = flows.flow(_combined(field, coefficients), pde_graphs.grid_graph(u).reshape(b, -1, 3), 1.0, steps=steps)
    return pde_graphs.resample_graph(moved.reshape(b, nt, nx, 3), method)


def covered_run(covered: torch.Tensor) -> torch.Tensor:
    """The longest run of consecutive True rows of covered (B, nt): (B, 2) [first, stop)."""
    b, nt = covered.shape
    out = torch.zeros(b, 2, dtype=torch.long)
    for i, row in enumerate(covered.tolist()):
        best, start = (0, 0), None
        for j, ok in enumerate(row + [False]):
            if ok and start is None:
                start = j
            elif not ok and start is not None:
                best = max(best, (j - start, start))
                start = None
        out[i] = torch.tensor([best[1], best[1] + best[0]])
    return out


def fits(rows: torch.Tensor, task: Task) -> torch.Tensor:
    """(..., 2) [first, stop) row ranges -> bool: does the task's window fit inside?"""
    first, stop = rows.unbind(-1)
    if task.start is None:
        return stop - first >= task.span
    return (first <= task.start) & (stop >= task.start + task.span)


def augment(
    u: torch.Tensor,
    field: Field,
    task: Task,
    n_copies: int = 16,
    scale: float = 0.1,
    steps: int = 4,
    method: str = "sinc",
    seed: int = 0,
    batch: int = 16,
) -> tuple[TrajectoryPool, dict]:
    """u (n, nt, nx) -> (TrajectoryPool with n_copies transformed copies per trajectory, stats).

    Copy k of trajectory i flows along sum_a c_a V_a with c_a ~ U(-scale_a, scale_a) (scale: one
    number for every generator, or one per generator; a generator
    seeded by `seed`, so nested training sets share copies). A copy whose covered rows cannot
    hold the task's window is rejected (valid False). stats: copies, rejected, mean_rows (of
    the kept copies). Warns when more than half the copies are rejected; raises ValueError when
    all are.
    """
    if not isinstance(n_copies, int) or n_copies < 1:
        raise ValueError(f"n_copies must be a positive integer; got {n_copies!r}")
    scales = torch.as_tensor(scale, dtype=torch.float64).flatten()
    if scales.numel() not in (1, field.n_generators) or not bool((scales >= 0).all() & (scales > 0).any()):
        raise ValueError(
            f"scale must be a positive number or {field.n_generators} non-negative numbers "
            f"(one per generator, not all 0); got {scale!r}"
        )
    n, nt, nx = u.shape
    g = torch.Generator().manual_seed(seed)
    coefficients = (torch.rand(n, n_copies, field.n_generators, generator=g, dtype=torch.float64) * 2 - 1) * scales
    copies = torch.empty(n, n_copies, nt, nx, dtype=u.dtype)
    rows = torch.empty(n, n_copies, 2, dtype=torch.long)
    per = max(1, batch // n_copies)
    for lo in range(0, n, per):
        chunk = u[lo : lo + per]
        m = chunk.shape[0]
        out, covered = transform(
            chunk.repeat_interleave(n_copies, 0),
            field,
            coefficients[lo : lo + m].reshape(m * n_copies, -1),
            steps,
            method,
        )
        copies[lo : lo + m] = out.reshape(m, n_copies, nt, nx).to(u.dtype)
        rows[lo : lo + m] = covered_run(covered).reshape(m, n_copies, 2)
    valid = fits(rows, task)
    rejected = int((~valid).sum())
    stats = {
        "copies": n * n_copies,
        "rejected": rejected,
        "mean_rows": float((rows[..., 1] - rows[..., 0])[valid].float().mean()) if rejected < valid.numel() else 0.0,
    }
    if rejected == valid.numel():
        raise ValueError(
            f"scale={scale}: every one of the {valid.numel()} copies was rejected (no "
            f"window of {task.span} rows left); use a smaller scale"
        )
    if rejected > valid.numel() / 2:
        warnings.warn(f"scale={scale}: {rejected} of {valid.numel()} copies rejected (too few rows left)", stacklevel=2)
    pool = TrajectoryPool(
        torch.cat([u[:, None], copies], 1),
        torch.cat([torch.tensor([0, nt]).expand(n, 1, 2), rows], 1),
        torch.cat([torch.ones(n, 1, dtype=torch.bool), valid], 1),
    )
    return pool, stats


@torch.no_grad()
def equivariance_error(
    model,
    u: torch.Tensor,
    field: Field,
    coefficients,
    task: Task,
    start: int | None = None,
    steps: int = 4,
    method: str = "sinc",
) -> torch.Tensor:
    """Relative equivariance error of a solver under the transformation g = exp(sum_a c_a V_a), (n,).

    With P = f(u[s : s + n_in]) and u~ = u with rows [s + lead, s + span) replaced by P, g acts
    on the whole graph of u~ (rows outside the window give the resampling its context):
        error = |f((g u~)[s : s + n_in]) - (g u~)[s + lead : s + span]| / |P|.
    s = task.start, or `start`, or the middle window. NaN where g leaves the window uncovered.
    """
    n, nt, _ = u.shape
    s = task.start if task.start is not None else (start if start is not None else (nt - task.span) // 2)
    pred = model(u[:, s : s + task.n_in])
    filled = u.clone()
    filled[:, s + task.lead : s + task.span] = pred
    c = torch.as_tensor(coefficients, dtype=torch.float64).expand(n, field.n_generators)
    moved, covered = transform(filled, field, c, steps, method)
    err = (model(moved[:, s : s + task.n_in]) - moved[:, s + task.lead : s + task.span]).flatten(1).norm(dim=1)
    err = err / pred.flatten(1).norm(dim=1).clamp_min(1e-30)
    ok = covered[:, s : s + task.span].all(1)
    return torch.where(ok, err, torch.full_like(err, math.nan))
