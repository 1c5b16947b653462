"""Flows of vector fields: phi_s(z) with d/ds phi_s(z) = V(phi_s(z)), phi_0 = id.

    flow(field, points, s)         move points along a field for time s (fixed-step RK4)
    warp_images(images, field, s)  move image content along each generator's flow

Integration uses the reparametrisation r = s * tau, tau in [0, 1]:
    dz/dtau = s V(z),
so that one RK4 grid on [0, 1] serves a batch of different (also negative) end times s.
"""

from __future__ import annotations

import torch
from torch import nn
from torchdiffeq import odeint_adjoint

from .generators import Field, grid_points


class _ScaledField(nn.Module):
    """dz/dtau = s_b V(z_b) for a batch of end times s (B,) and points z (B, n, d)."""

    def __init__(self, field, s: torch.Tensor):
        super().__init__()
        self.field, self.s = field, s

    def forward(self, tau, z):
        return self.s[:, None, None] * self.field(z)


def _parameters_of(field) -> tuple[torch.Tensor, ...]:
    """Trainable tensors behind `field` (a module, or a bound method of one)."""
    owner = field if isinstance(field, nn.Module) else getattr(field, "__self__", None)
    return tuple(p for p in owner.parameters() if p.requires_grad) if isinstance(owner, nn.Module) else ()


def flow(
    field,
    points: torch.Tensor,
    s,
    steps: int = 20,
    times=None,
    adjoint: bool = False,
    start_velocity: torch.Tensor | None = None,
) -> torch.Tensor:
    """Flow `points` along `field` for time `s` with `steps` fixed RK4 steps.

    field:  callable (B, n, d) -> (B, n, d), e.g. `GeneratorField.per_generator` (row b of the
            points moves along generator b) or any autonomous vector field.
    points: (B, n, d).
    s:      float, or tensor (B,) of end times, one per row; negative values flow backwards.
    times:  optional fractions 0 < f <= 1 of s at which to read the flow as well; pick multiples
            of 1/steps to read exact RK4 states.
    adjoint: back-propagate with the adjoint method (memory O(1) in steps) instead of through the
            solver's operations.
    start_velocity: optional field(points) (B, n, d) when the caller has it already (e.g. all rows
            of the points are one graph, so one evaluation of the shared trunk serves every
            generator); it replaces the first stage's evaluation (direct back-propagation only).
    Returns (B, n, d), or (len(times), B, n, d) when `times` is given.
    """
    if points.ndim != 3:
        raise ValueError(f"points must have shape (B, n, d); got {tuple(points.shape)}")
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive integer; got {steps!r}")
    s = torch.as_tensor(s, dtype=points.dtype, device=points.device)
    s = s.expand(points.shape[0]) if s.ndim == 0 else s
    if s.shape != points.shape[:1]:
        raise ValueError(f"s must be a scalar or have shape ({points.shape[0]},); got {tuple(s.shape)}")
    fractions = [1.0] if times is None else [float(f) for f in times]
    if any(not 0 < f <= 1 for f in fractions):
        raise ValueError(f"times must be fractions in (0, 1]; got {times!r}")
    if start_velocity is not None and start_velocity.shape != points.shape:
        raise ValueError(
            f"start_velocity must have the points' shape {tuple(points.shape)}; got {tuple(start_velocity.shape)}"
        )
    if adjoint:
        t = torch.tensor([0.0, *fractions], dtype=points.dtype, device=points.device)
        options = {"step_size": 1.0 / steps}
        params = _parameters_of(field) + ((s,) if s.requires_grad else ())
        path = odeint_adjoint(
            _ScaledField(field, s),
            points,
            t,
            method="rk4",
            options=options,
            adjoint_method="rk4",
            adjoint_options=options,
            adjoint_params=params,
        )
        return path[-1] if times is None else path[1:]
    path = _rk4_readouts(field, points, s[:, None, None], steps, fractions, start_velocity)
    return path[-1] if times is None else torch.stack(path)


def _rk4_readouts(
    field,
    z: torch.Tensor,
    s: torch.Tensor,
    steps: int,
    fractions: list[float],
    start_velocity: torch.Tensor | None = None,
) -> list[torch.Tensor]:
    """dz/dtau = s V(z) on tau in [0, 1] with `steps` steps of the RK4 3/8 rule; the states at the
    `fractions` (linear interpolation inside a step, exact at multiples of 1/steps).

    The same scheme and readout as torchdiffeq's fixed-grid "rk4" (`rk4_alt_step_func`, linear
    interpolation), written out so that no solver bookkeeping runs per stage: V is autonomous.
    s: (B, 1, 1). Returns one (B, n, d) tensor per fraction.
    """
    h = 1.0 / steps
    states: dict[float, torch.Tensor] = {}
    for step in range(steps):
        tau0, tau1 = step * h, (1.0 if step == steps - 1 else (step + 1) * h)
        dt = tau1 - tau0
        k1 = s * (start_velocity if step == 0 and start_velocity is not None else field(z))
        k2 = s * field(z + dt * k1 / 3)
        k3 = s * field(z + dt * (k2 - k1 / 3))
        k4 = s * field(z + dt * (k1 - k2 + k3))
        z1 = z + (k1 + 3 * (k2 + k3) + k4) * (dt * 0.125)
        for f in fractions:
            if f not in states and f <= tau1:
                w = (f - tau0) / dt
                states[f] = z1 if w == 1.0 else z + (z1 - z) * w
        z = z1
    return [states[f] for f in fractions]


def grid_lookup(table: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Multilinear interpolation of a tabulated field, the border value outside the table.

    table (B, C, *lattice) with 2 or 3 lattice axes (last axis first in z's coordinates, as
    `grid_sample` orders them); z (B, n, k) in [-1, 1]^k, k = number of lattice axes, -1 and 1
    the first and last lattice points. Returns (B, C, n).
    """
    k = table.ndim - 2
    if z.shape[-1] != k or z.ndim != 3:
        raise ValueError(f"z must have shape (B, n, {k}) for a table with {k} lattice axes; got {tuple(z.shape)}")
    grid = z.reshape(z.shape[0], z.shape[1], *([1] * (k - 1)), k)
    out = nn.functional.grid_sample(table, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out.reshape(*out.shape[:2], -1)


def sample_images(images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Bilinear resampling with zero padding: out[b, :, i, j] = images[b] at grid[b, i, j].

    images (B, C, H, W); grid (B, H', W', 2) in [-1, 1]^2 with (x, y) = (column, row),
    align_corners=True (pixel centres at -1 and 1).
    """
    return nn.functional.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def warp_images(images: torch.Tensor, field: Field, s, steps: int = 20, adjoint: bool = False) -> torch.Tensor:
    """Move image content along each of the N generators of `field` for time s.

    images (B, C, H, W); s a float or a tensor (N,), one end time per generator.
    Returns (N, B, C, H, W) with out[a](p) = images(phi^a_{-s_a}(p)): the pixel grid is flowed
    once per generator by -s_a and that one grid resamples the whole batch.
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape (B, C, H, W); got {tuple(images.shape)}")
    n_gen, (b, c, h, w) = field.n_generators, images.shape
    grid = grid_points(h, w, dtype=images.dtype).to(images.device)
    s = torch.as_tensor(s, dtype=images.dtype, device=images.device)
    start = None if adjoint else field(grid).permute(2, 0, 1)  # every generator at the same grid
    moved = flow(
        field.per_generator, grid.expand(n_gen, -1, -1), -s.expand(n_gen), steps, adjoint=adjoint, start_velocity=start
    )
    grids = moved.reshape(n_gen, 1, h, w, 2).expand(n_gen, b, h, w, 2).reshape(n_gen * b, h, w, 2)
    batch = images.expand(n_gen, b, c, h, w).reshape(n_gen * b, c, h, w)
    return sample_images(batch, grids).reshape(n_gen, b, c, h, w)
