"""A 1-D Fourier neural operator as a neural PDE solver, trained LPSDA-style, scored by rollout NMSE.

    FNO1d(n_in, n_out, width, modes, layers)   u rows (B, n_in, nx) -> next rows (B, n_out, nx)
    Task                                        which rows go in and which come out
    train(model, pool, task, ...)               AdamW on random windows of a TrajectoryPool
    predict(model, u, task)                     rolled-out (bundled) or single-time predictions
    nmse(model, u, task)                        per-trajectory normalised MSE, (n,)

Temporal bundling (Brandstetter, Worrall & Welling 2022): the model maps n_in = 20 consecutive
time rows to the next n_out = 20, and a trajectory is predicted by feeding predictions back in.
LPSDA-style training (Brandstetter, Welling & Worrall 2022, "Lie point symmetry data
augmentation"): every training sample is a window at a random start time inside the valid rows
of a trajectory (or of one of its transformed copies, see `symflow.augmentation`).

Solutions are in the learner's normalised units (c u, see `symflow.pdes`); the grid is periodic.
"""
from __future__ import annotations

import dataclasses
import math
import time

import torch
from torch import nn


class SpectralConv1d(nn.Module):
    """h (B, C, nx) -> irfft(W_k rfft(h)_k) for the lowest `modes` wavenumbers k, others zeroed.

    W_k is a complex (C_in, C_out) matrix per kept mode, stored as real and imaginary parts.
    """

    def __init__(self, width: int, modes: int):
        super().__init__()
        self.modes = modes
        scale = 1.0 / (width * width)
        self.weight = nn.Parameter(scale * torch.rand(width, width, modes, 2))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        nx = h.shape[-1]
        m = min(self.modes, nx // 2 + 1)
        spectrum = torch.fft.rfft(h)
        out = torch.zeros_like(spectrum)
        out[..., :m] = torch.einsum("bim,iom->bom", spectrum[..., :m],
                                    torch.view_as_complex(self.weight[..., :m, :].contiguous()))
        return torch.fft.irfft(out, n=nx)


class FNO1d(nn.Module):
    """Fourier neural operator on a periodic 1-D grid (Li et al. 2021).

    input  u (B, n_in, nx), channels = time rows, plus (cos 2 pi x, sin 2 pi x) of the grid
    lift   Linear(n_in + 2, width)
    layers h <- GELU(SpectralConv1d(h) + Conv1d_1x1(h)), `layers` times (no GELU after the last)
    head   Linear(width, 128) - GELU - Linear(128, n_out)
    output u[:, -1:] + head(h): the change from the last input row, (B, n_out, nx)
    """

    def __init__(self, n_in: int = 20, n_out: int = 20, width: int = 64, modes: int = 16, layers: int = 4):
        super().__init__()
        for name, value in (("n_in", n_in), ("n_out", n_out), ("width", width), ("modes", modes),
                            ("layers", layers)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        self.n_in, self.n_out = n_in, n_out
        self.lift = nn.Linear(n_in + 2, width)
        self.spectral = nn.ModuleList(SpectralConv1d(width, modes) for _ in range(layers))
        self.pointwise = nn.ModuleList(nn.Conv1d(width, width, 1) for _ in range(layers))
        self.head = nn.Sequential(nn.Linear(width, 128), nn.GELU(), nn.Linear(128, n_out))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        if u.ndim != 3 or u.shape[1] != self.n_in:
            raise ValueError(f"u must have shape (B, {self.n_in}, nx); got {tuple(u.shape)}")
        b, _, nx = u.shape
        angle = 2 * math.pi * torch.arange(nx, dtype=u.dtype, device=u.device) / nx
        grid = torch.stack([torch.cos(angle), torch.sin(angle)]).expand(b, 2, nx)
        h = self.lift(torch.cat([u, grid], 1).transpose(1, 2)).transpose(1, 2)      # (B, width, nx)
        for i, (spectral, pointwise) in enumerate(zip(self.spectral, self.pointwise)):
            h = spectral(h) + pointwise(h)
            if i < len(self.spectral) - 1:
                h = nn.functional.gelu(h)
        return u[:, -1:] + self.head(h.transpose(1, 2)).transpose(1, 2)


@dataclasses.dataclass(frozen=True)
class Task:
    """Inputs rows [s, s + n_in) -> target rows [s + lead, s + lead + n_out) of a trajectory.

    start None: s is drawn uniformly among the windows that fit (LPSDA-style training) and a test
    trajectory is rolled out from s = 0 in bundles (requires lead == n_in). start = s0: the one
    window at s0 (a time-dependent equation's single-time target, e.g. rows 20..39 -> row 90 is
    Task(20, 1, 70, 20)).
    """
    n_in: int = 20
    n_out: int = 20
    lead: int = 20
    start: int | None = None

    def __post_init__(self):
        for name in ("n_in", "n_out", "lead"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive integer; got {getattr(self, name)!r}")
        if self.start is None and self.lead != self.n_in:
            raise ValueError(f"a rolled-out task needs lead == n_in; got lead={self.lead}, n_in={self.n_in}")
        if self.start is not None and (not isinstance(self.start, int) or self.start < 0):
            raise ValueError(f"start must be None or a non-negative integer; got {self.start!r}")

    @property
    def span(self) -> int:
        """Rows one training window covers."""
        return self.lead + self.n_out


def bundled(n: int = 20) -> Task:
    """Temporal bundling: n rows -> the next n rows, rolled out over a trajectory."""
    return Task(n, n, n, None)


def single_time(first: int = 20, n_in: int = 20, target: int = 90) -> Task:
    """Rows [first, first + n_in) -> row `target` (one fixed window)."""
    return Task(n_in, 1, target - first, first)


@dataclasses.dataclass
class TrajectoryPool:
    """Training trajectories with transformed copies, each with its own valid rows.

    u:     (n, 1 + K, nt, nx) float; copy 0 is the original trajectory
    rows:  (n, 1 + K, 2) long, [first, stop) of the rows each copy covers
    valid: (n, 1 + K) bool, False for rejected copies (too few rows); copy 0 is always valid
    """
    u: torch.Tensor
    rows: torch.Tensor
    valid: torch.Tensor

    @classmethod
    def plain(cls, u: torch.Tensor) -> "TrajectoryPool":
        """No augmentation: u (n, nt, nx) -> a pool with K = 0."""
        if u.ndim != 3:
            raise ValueError(f"u must have shape (n, nt, nx); got {tuple(u.shape)}")
        n, nt, _ = u.shape
        rows = torch.tensor([0, nt]).expand(n, 1, 2).clone()
        return cls(u[:, None], rows, torch.ones(n, 1, dtype=torch.bool))

    @classmethod
    def concatenate(cls, pools: list["TrajectoryPool"]) -> "TrajectoryPool":
        """Stack pools along trajectories, padding fewer copies with invalid (never drawn) ones."""
        k = max(p.u.shape[1] for p in pools)

        def pad(x, fill):
            extra = k - x.shape[1]
            return x if extra == 0 else torch.cat([x, fill.expand(x.shape[0], extra, *x.shape[2:])], 1)

        return cls(torch.cat([pad(p.u, torch.zeros((), dtype=p.u.dtype)) for p in pools]),
                   torch.cat([pad(p.rows, torch.zeros((), dtype=torch.long)) for p in pools]),
                   torch.cat([pad(p.valid, torch.zeros((), dtype=torch.bool)) for p in pools]))

    def subset(self, n: int) -> "TrajectoryPool":
        """The first n trajectories (nested training sets)."""
        if not 0 < n <= self.u.shape[0]:
            raise ValueError(f"n must be in 1..{self.u.shape[0]} (trajectories in the pool); got {n}")
        return TrajectoryPool(self.u[:n], self.rows[:n], self.valid[:n])

    def draw(self, index: torch.Tensor, task: Task, p_original: float, generator: torch.Generator):
        """One training window per trajectory in `index`: (inputs (B, n_in, nx), targets (B, n_out, nx)).

        The original with probability p_original (always when it has no valid copy), else a
        uniformly drawn valid copy; then a start row s (random, or task.start) that fits inside
        that copy's rows.
        """
        b = index.shape[0]
        valid = self.valid[index].clone()
        valid[:, 0] = False
        has_copy = valid.any(1)
        pick_copy = has_copy & (torch.rand(b, generator=generator) >= p_original)
        weights = torch.where(valid, 1.0, 0.0)
        weights[~has_copy, 0] = 1.0
        copy = torch.where(pick_copy, torch.multinomial(weights, 1, generator=generator)[:, 0], 0)
        first, stop = self.rows[index, copy].unbind(-1)
        if task.start is None:
            room = stop - first - task.span + 1
            s = first + (torch.rand(b, generator=generator) * room).long()
        else:
            s = torch.full((b,), task.start)
        t = s[:, None] + torch.arange(task.span)
        windows = self.u[index[:, None], copy[:, None], t]                 # (B, span, nx)
        return windows[:, :task.n_in], windows[:, task.lead:]


def train(model: FNO1d, pool: TrajectoryPool, task: Task, steps: int, batch: int = 16,
          lr: float = 1e-3, weight_decay: float = 1e-4, p_original: float = 0.5, seed: int = 0,
          device="cpu", log_every: int = 0) -> dict:
    """Train `model` in place for `steps` AdamW steps (cosine learning-rate decay) on random
    windows of `pool` (batches of trajectories without replacement, reshuffled every epoch).
    Loss: mean squared error of the predicted rows. Returns {"loss": [...], "seconds": wall time}.
    """
    if task.start is not None and bool(((pool.rows[:, 0, 0] > task.start)
                                         | (pool.rows[:, 0, 1] < task.start + task.span)).any()):
        raise ValueError(f"the task's window rows {task.start}..{task.start + task.span - 1} "
                         f"do not fit the trajectories' {pool.u.shape[2]} rows")
    if pool.u.shape[2] < task.span:
        raise ValueError(f"trajectories have {pool.u.shape[2]} rows; the task needs {task.span}")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model.to(device).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    n, losses, order, start = pool.u.shape[0], [], torch.empty(0, dtype=torch.long), time.perf_counter()
    for step in range(steps):
        if order.numel() < min(batch, n):
            order = torch.cat([order, torch.randperm(n, generator=generator)])
        index, order = order[:min(batch, n)], order[min(batch, n):]
        inputs, targets = pool.draw(index, task, p_original, generator)
        loss = nn.functional.mse_loss(model(inputs.to(device)), targets.to(device))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1:5d}/{steps}  loss {sum(losses[-log_every:]) / log_every:.3e}")
    model.eval()
    return {"loss": losses, "seconds": time.perf_counter() - start}


@torch.no_grad()
def predict(model: FNO1d, u: torch.Tensor, task: Task, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions and the matching true rows for test trajectories u (n, nt, nx).

    Bundled task: roll out from rows [0, n_in), n_out rows at a time, for as many whole bundles
    as fit: returns (pred, true), each (n, n_bundles * n_out, nx). Single-time task: the one
    window, (n, n_out, nx) each.
    """
    if u.ndim != 3:
        raise ValueError(f"u must have shape (n, nt, nx); got {tuple(u.shape)}")
    device = next(model.parameters()).device
    nt = u.shape[1]
    if task.start is not None:
        if task.start + task.span > nt:
            raise ValueError(f"the task needs rows up to {task.start + task.span - 1}; u has {nt}")
        inputs = u[:, task.start:task.start + task.n_in]
        pred = torch.cat([model(inputs[i:i + batch].to(device)).cpu() for i in range(0, len(u), batch)])
        return pred, u[:, task.start + task.lead:task.start + task.span]
    n_bundles = (nt - task.n_in) // task.n_out
    if n_bundles < 1:
        raise ValueError(f"u has {nt} rows; a rollout needs at least {task.n_in + task.n_out}")
    out = []
    for i in range(0, len(u), batch):
        state, rows = u[i:i + batch, :task.n_in].to(device), []
        for _ in range(n_bundles):
            state = model(state)
            rows.append(state.cpu())
        out.append(torch.cat(rows, 1))
    return torch.cat(out), u[:, task.n_in:task.n_in + n_bundles * task.n_out]


def nmse(model: FNO1d, u: torch.Tensor, task: Task) -> torch.Tensor:
    """Per-trajectory normalised MSE |pred - true|^2 / |true|^2 over all predicted rows, (n,)."""
    pred, true = predict(model, u, task)
    return ((pred - true) ** 2).sum((1, 2)) / (true ** 2).sum((1, 2)).clamp_min(1e-30)
