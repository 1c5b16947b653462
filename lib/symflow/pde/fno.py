"""A 1-D Fourier neural operator as a neural PDE solver, trained LPSDA-style, scored by rollout NMSE.

    FNO1d(n_in, n_out, width, modes, layers)   u rows (B, n_in, nx) -> next rows (B, n_out, nx)
    seeded(seeds, ...), stacked(models)         E independent models trained as one (ensemble)
    Task                                        which rows go in and which come out
    fit(model, pools, task, valid, settings)    AdamW on random windows of TrajectoryPools until
                                                the validation error stops improving (FitResult:
                                                history DataFrame, best steps and errors);
                                                checkpointed and resumable like `symflow.learning`
    predict(model, u, task)                     rolled-out (bundled) or single-time predictions
    nmse(model, u, task)                        per-trajectory normalised MSE, (n,) or (E, n)
    cumulative_nmse(model, u, task)             LPSDA's per-row NMSE summed over rows 40..139

Temporal bundling (Brandstetter, Worrall & Welling 2022): the model maps n_in = 20 consecutive
time rows to the next n_out = 20, and a trajectory is predicted by feeding predictions back in.
LPSDA-style training (Brandstetter, Welling & Worrall 2022, "Lie point symmetry data
augmentation"): every training sample is a window at a random start time inside the valid rows
of a trajectory (or of one of its transformed copies, see `symflow.pde.augmentation`).

Solutions are in the learner's normalised units (c u, see `symflow.pde.pdes`); the grid is periodic.
"""

from __future__ import annotations

import dataclasses
import math
import time

import pandas as pd
import torch
from torch import nn

from .. import learning


def _uniform(shape, bound: float) -> nn.Parameter:
    """A parameter drawn from U(-bound, bound) (nn.Linear's default initialisation law)."""
    return nn.Parameter((torch.rand(shape) * 2 - 1) * bound)


class FNO1d(nn.Module):
    """Fourier neural operator on a periodic 1-D grid (Li et al. 2021), optionally an ensemble.

    input  u (B, n_in, nx), channels = time rows, plus (cos 2 pi x, sin 2 pi x) of the grid
    lift   Linear(n_in + 2, width)
    layers h <- GELU(K h + W h + b), `layers` times (no GELU after the last), where K keeps the
           lowest `modes` wavenumbers k of rfft(h) and multiplies each by a complex
           (width, width) matrix R_k: K h = irfft(R_k rfft(h)_k), and W is a 1x1 convolution
    head   Linear(width, hidden) - GELU - Linear(hidden, n_out)
    output u[:, -1:] + head(h): the change from the last input row, (B, n_out, nx)

    members = E > 1 holds E independent models with stacked parameters (leading dimension E)
    and maps u (E, B, n_in, nx) -> (E, B, n_out, nx): member e computes exactly what a
    1-member model with `member(e)`'s weights computes, and since the training loss is the sum
    of the members' losses, each member's gradient is its own. A 1-member model also accepts
    and returns the 3-D shapes above. Initialisation: linear weights and biases U(+-1/sqrt(fan_in)),
    spectral weights U(0, 1/width^2) (real and imaginary parts).
    """

    def __init__(
        self,
        n_in: int = 20,
        n_out: int = 20,
        width: int = 64,
        modes: int = 16,
        layers: int = 4,
        members: int = 1,
        hidden: int = 128,
    ):
        super().__init__()
        for name, value in (
            ("n_in", n_in),
            ("n_out", n_out),
            ("width", width),
            ("modes", modes),
            ("layers", layers),
            ("members", members),
            ("hidden", hidden),
        ):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        self.n_in, self.n_out, self.width, self.modes, self.layers = n_in, n_out, width, modes, layers
        self.members, self.hidden = members, hidden
        E, C = members, n_in + 2
        self.lift_w, self.lift_b = _uniform((E, C, width), C**-0.5), _uniform((E, 1, 1, width), C**-0.5)
        self.spectral = nn.ParameterList(
            nn.Parameter(torch.rand(E, modes, width, width, 2) / width**2) for _ in range(layers)
        )
        self.point_w = nn.ParameterList(_uniform((E, width, width), width**-0.5) for _ in range(layers))
        self.point_b = nn.ParameterList(_uniform((E, 1, 1, width), width**-0.5) for _ in range(layers))
        self.head1_w, self.head1_b = _uniform((E, width, hidden), width**-0.5), _uniform((E, 1, 1, hidden), width**-0.5)
        self.head2_w, self.head2_b = (
            _uniform((E, hidden, n_out), hidden**-0.5),
            _uniform((E, 1, 1, n_out), hidden**-0.5),
        )

    def _spectral(self, h: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """h (E, B, nx, width) -> irfft(R_k rfft(h)_k) over x, for the kept modes k."""
        nx = h.shape[2]
        m = min(self.modes, nx // 2 + 1)
        spectrum = torch.fft.rfft(h, dim=2)[:, :, :m]  # (E, B, m, width)
        R = torch.view_as_complex(weight[:, :m].contiguous())  # (E, m, wi, wo)
        kept = torch.matmul(spectrum.transpose(1, 2), R).transpose(1, 2)  # (E, B, m, wo)
        return torch.fft.irfft(kept, n=nx, dim=2)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        single = u.ndim == 3 and self.members == 1
        if single:
            u = u[None]
        if u.ndim != 4 or u.shape[0] != self.members or u.shape[2] != self.n_in:
            expected = f"(B, {self.n_in}, nx) or " if self.members == 1 else ""
            raise ValueError(f"u must have shape {expected}({self.members}, B, {self.n_in}, nx); got {tuple(u.shape)}")
        E, b, _, nx = u.shape
        angle = 2 * math.pi * torch.arange(nx, dtype=u.dtype, device=u.device) / nx
        grid = torch.stack([torch.cos(angle), torch.sin(angle)]).expand(E, b, 2, nx)
        h = torch.matmul(torch.cat([u, grid], 2).transpose(2, 3), self.lift_w[:, None]) + self.lift_b
        for i in range(self.layers):  # h (E, B, nx, width)
            h = self._spectral(h, self.spectral[i]) + torch.matmul(h, self.point_w[i][:, None]) + self.point_b[i]
            if i < self.layers - 1:
                h = nn.functional.gelu(h)
        h = nn.functional.gelu(torch.matmul(h, self.head1_w[:, None]) + self.head1_b)
        out = u[:, :, -1:] + (torch.matmul(h, self.head2_w[:, None]) + self.head2_b).transpose(2, 3)
        return out[0] if single else out

    def member(self, e: int) -> "FNO1d":
        """A 1-member copy of member e (same weights)."""
        if not 0 <= e < self.members:
            raise ValueError(f"e must be in 0..{self.members - 1}; got {e!r}")
        one = FNO1d(self.n_in, self.n_out, self.width, self.modes, self.layers, hidden=self.hidden)
        one.load_state_dict({k: v[e : e + 1].clone() for k, v in self.state_dict().items()})
        return one.to(next(self.parameters()).device)


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

        return cls(
            torch.cat([pad(p.u, torch.zeros((), dtype=p.u.dtype)) for p in pools]),
            torch.cat([pad(p.rows, torch.zeros((), dtype=torch.long)) for p in pools]),
            torch.cat([pad(p.valid, torch.zeros((), dtype=torch.bool)) for p in pools]),
        )

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
        windows = self.u[index[:, None], copy[:, None], t]  # (B, span, nx)
        return windows[:, : task.n_in], windows[:, task.lead :]


@dataclasses.dataclass(frozen=True)
class FitSettings:
    """How `fit` trains: AdamW, stopped early on validation error; each field's meaning beside it.
    A field outside what it accepts is a ValueError naming it (`learning.check_settings`)."""

    batch: int = 16  # windows per optimiser step and member (one window per drawn trajectory)
    lr: float = 1e-3  # AdamW's step size
    weight_decay: float = 1e-4  # AdamW's decay
    p_original: float = 0.5  # probability of the original trajectory when a copy could be drawn
    # the budget in passes over the training windows: an epoch is ceil(n_train * (nt // n_out) / batch)
    # steps, so it grows with the data
    max_epochs: int = 100
    eval_every: float = 1.0  # epochs between two validation evaluations
    patience: int = 10  # evaluations without a new best validation error before a member stops
    n_valid: int = 64  # validation trajectories used (the first ones of the split)
    schedule: str = "cosine"  # "constant" learning rate, or "cosine": decayed to 0 over the max_epochs budget
    max_steps: int | None = None  # None, or a cap on that budget in optimiser steps

    def __post_init__(self):
        learning.check_settings(
            self, integers=("batch", "max_epochs", "patience", "n_valid"), positive=("lr", "eval_every")
        )
        learning.check_settings(self, non_negative=("weight_decay",))
        if self.max_steps is not None:
            learning.check_settings(self, integers=("max_steps",))
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"FitSettings: schedule must be 'constant' or 'cosine'; got {self.schedule!r}")
        if not 0 <= self.p_original <= 1:
            raise ValueError(f"FitSettings: p_original must be in [0, 1]; got {self.p_original!r}")


def stacked(models: list[FNO1d]) -> FNO1d:
    """One ensemble FNO1d whose member e is models[e] (1-member models of one size)."""
    first = models[0]
    sizes = {(m.n_in, m.n_out, m.width, m.modes, m.layers, m.members, m.hidden) for m in models}
    if len(sizes) != 1 or first.members != 1:
        raise ValueError(f"models must be 1-member FNO1d of one size; got sizes {sorted(sizes)}")
    out = FNO1d(
        first.n_in, first.n_out, first.width, first.modes, first.layers, members=len(models), hidden=first.hidden
    )
    out.load_state_dict({k: torch.cat([m.state_dict()[k] for m in models]) for k in first.state_dict()})
    return out


def seeded(seeds: list[int], n_in: int = 20, n_out: int = 20, **size) -> FNO1d:
    """An ensemble with member e initialised as a 1-member FNO1d after torch.manual_seed(seeds[e]),
    so that a member's start does not depend on which other members share the ensemble."""
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(FNO1d(n_in, n_out, **size))
    return stacked(models)


def steps_per_epoch(n_train: int, nt: int, task: Task, batch: int) -> int:
    """Optimiser steps of one pass over the training windows: ceil(n_train (nt // n_out) / batch)."""
    return max(1, math.ceil(n_train * max(1, nt // task.n_out) / batch))


def _check_fits(pool: TrajectoryPool, task: Task) -> None:
    if pool.u.shape[2] < task.span:
        raise ValueError(f"trajectories have {pool.u.shape[2]} rows; the task needs {task.span}")
    if task.start is not None and bool(
        ((pool.rows[:, 0, 0] > task.start) | (pool.rows[:, 0, 1] < task.start + task.span)).any()
    ):
        raise ValueError(
            f"the task's window rows {task.start}..{task.start + task.span - 1} "
            f"do not fit the trajectories' {pool.u.shape[2]} rows"
        )


def draw_batch(
    pools: list[TrajectoryPool],
    orders: list[torch.Tensor],
    generators: list[torch.Generator],
    batch: int,
    task: Task,
    p_original: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch per member: (inputs (E, batch, n_in, nx), targets (E, batch, n_out, nx)).

    Member e takes the next `batch` trajectories of its shuffled order orders[e] (refilled with a
    fresh permutation from generators[e] when it runs short; updated in place) and one window of
    each (`TrajectoryPool.draw`)."""
    inputs, targets = [], []
    for e, pool in enumerate(pools):
        if orders[e].numel() < batch:
            orders[e] = torch.cat([orders[e], torch.randperm(pool.u.shape[0], generator=generators[e])])
        index, orders[e] = orders[e][:batch], orders[e][batch:]
        x, y = pool.draw(index, task, p_original, generators[e])
        inputs.append(x)
        targets.append(y)
    return torch.stack(inputs), torch.stack(targets)


def train_step(
    model: FNO1d, optimiser: torch.optim.Optimizer, inputs: torch.Tensor, targets: torch.Tensor, device="cpu"
) -> torch.Tensor:
    """One optimiser step on the sum over members of each member's mean squared error; returns
    the members' losses (E,), detached."""
    per_member = ((model(inputs.to(device)) - targets.to(device)) ** 2).mean((1, 2, 3))
    optimiser.zero_grad()
    per_member.sum().backward()
    optimiser.step()
    return per_member.detach()


@dataclasses.dataclass(frozen=True, eq=False)
class FitResult:
    """What `fit` returns.

    history          one row per evaluation and member (learning's convention): step (optimiser
                     steps done), member, valid (the member's mean validation NMSE), loss (its mean
                     training loss over the steps since the previous evaluation), lr (the learning
                     rate of the last of those steps), seconds (wall time since the previous
                     evaluation, this one included; the same for every member)
    steps            optimiser steps run (every member takes the same number)
    steps_per_epoch  `steps_per_epoch` of the training set and batch
    best_step        [E] the step of each member's best validation error (its kept weights)
    best_valid       [E] that error
    seconds          wall time of the whole run (the runs before a resume included)
    """

    history: pd.DataFrame
    steps: int
    steps_per_epoch: int
    best_step: list[int]
    best_valid: list[float]
    seconds: float


_FIT_KEYS = (
    "step",
    "model",
    "optimiser",
    "schedule",
    "generators",
    "orders",
    "best_state",
    "best_valid",
    "best_step",
    "since",
    "history",
    "seconds",
)


def fit(
    model: FNO1d,
    pools: list[TrajectoryPool],
    task: Task,
    valid: torch.Tensor,
    settings: FitSettings = FitSettings(),
    seeds: list[int] | None = None,
    device="cpu",
    log=None,
    checkpoint=None,
    identity=None,
    log_every: int = 1,
) -> FitResult:
    """Train every member e of `model` on windows of pools[e] until its validation error stops
    improving, and leave each member at its best-validation weights (LPSDA's model selection).

    pools: one TrajectoryPool per member, all with the same number of trajectories (members
    may share one pool). valid (n, nt, nx): validation trajectories, scored by `nmse` (rolled
    out, or the task's single window). seeds: one per member, for its window draws (default
    0..E-1). Every member takes the same number of steps; a member whose validation error has
    not improved for `patience` evaluations is stopped (its best weights are kept) and the
    run ends when all are stopped or after max_epochs. log: None or a callable receiving a
    summary line every `log_every` evaluations (after that evaluation's checkpoint is written)
    and one line when the run ends (its steps and the members' best validation errors).

    checkpoint: None, or a path where the whole training state (model, optimiser, schedule, the
    members' generators and window orders, best weights and errors, the history, steps and
    seconds) is written atomically at every evaluation and at the end (`learning.save_checkpoint`).
    When it exists, the run resumes from it and ends with the weights and history (up to
    seconds) of an uninterrupted run. identity: what makes the run this run beyond fit's own
    arguments (e.g. the data and augmentation); stored with settings, task, seeds and the model's
    size, and compared on resume.

    Returns a `FitResult`. Raises ValueError when the pools do not match the members, their sizes
    differ, a window does not fit, valid is empty, or the checkpoint is damaged, not one of fit's,
    or of another run (the error names the file).
    """
    E = model.members
    if int(log_every) < 1:
        raise ValueError(f"log_every must be a positive number of evaluations; got {log_every!r}")
    if len(pools) != E:
        raise ValueError(f"pools must hold one TrajectoryPool per member ({E}); got {len(pools)}")
    n = pools[0].u.shape[0]
    if any(p.u.shape[0] != n for p in pools):
        raise ValueError(f"every pool must hold the same number of trajectories; got {[p.u.shape[0] for p in pools]}")
    for pool in pools:
        _check_fits(pool, task)
    if valid.ndim != 3 or valid.shape[0] == 0:
        raise ValueError(f"valid must be validation trajectories (n >= 1, nt, nx); got {tuple(valid.shape)}")
    seeds = list(range(E)) if seeds is None else list(seeds)
    if len(seeds) != E:
        raise ValueError(f"seeds must hold one seed per member ({E}); got {len(seeds)}")
    valid = valid[: settings.n_valid]
    b = min(settings.batch, n)
    per_epoch = steps_per_epoch(n, pools[0].u.shape[2], task, b)
    max_steps = settings.max_epochs * per_epoch
    if settings.max_steps is not None:
        max_steps = min(max_steps, settings.max_steps)
    eval_steps = max(1, round(settings.eval_every * per_epoch))
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    orders = [torch.empty(0, dtype=torch.long) for _ in range(E)]
    model.to(device).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    schedule = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max_steps) if settings.schedule == "cosine" else None
    )
    best_valid = torch.full((E,), math.inf, dtype=torch.float64)
    best_step, since = [0] * E, torch.zeros(E, dtype=torch.long)
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    history, losses, step, elapsed = [], [], 0, 0.0
    identity = {
        "loop": "fno.fit",
        "settings": dataclasses.asdict(settings),
        "task": dataclasses.asdict(task),
        "seeds": seeds,
        "model": (model.n_in, model.n_out, model.width, model.modes, model.layers, model.members, model.hidden),
        "identity": identity,
    }
    state = learning.load_checkpoint(checkpoint, identity, _FIT_KEYS, map_location="cpu")
    if state is not None:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        if schedule is not None:
            schedule.load_state_dict(state["schedule"])
        for generator, generator_state in zip(generators, state["generators"]):
            generator.set_state(generator_state)
        orders = list(state["orders"])
        best_state = {k: v.to(best_state[k].device) for k, v in state["best_state"].items()}
        best_valid, best_step, since = state["best_valid"], list(state["best_step"]), state["since"]
        history, step, elapsed = list(state["history"]), state["step"], state["seconds"]
        if log is not None:
            log(f"resumed from {checkpoint} at step {step}")
    start = last = time.perf_counter()

    def save():
        if checkpoint is not None:
            full = {
                "step": step,
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "schedule": None if schedule is None else schedule.state_dict(),
                "generators": [g.get_state() for g in generators],
                "orders": orders,
                "best_state": best_state,
                "best_valid": best_valid,
                "best_step": best_step,
                "since": since,
                "history": history,
                "seconds": elapsed + time.perf_counter() - start,
            }
            learning.save_checkpoint(checkpoint, identity, full)

    while step < max_steps and bool((since < settings.patience).any()):
        inputs, targets = draw_batch(pools, orders, generators, b, task, settings.p_original)
        lr = optimiser.param_groups[0]["lr"]
        per_member = train_step(model, optimiser, inputs, targets, device)
        if schedule is not None:
            schedule.step()
        losses.append(per_member.detach().cpu())
        step += 1
        if step % eval_steps == 0 or step == max_steps:
            model.eval()
            scores = nmse(model, valid, task).reshape(E, -1).mean(1).double()
            model.train()
            loss = torch.stack(losses).mean(0)
            losses = []
            improved = scores < best_valid
            since = torch.where(improved, 0, since + 1)
            best_valid = torch.where(improved, scores, best_valid)
            with torch.no_grad():
                for k, v in model.state_dict().items():
                    best_state[k][improved.to(v.device)] = v[improved.to(v.device)]
            now = time.perf_counter()
            for e in range(E):
                if improved[e]:
                    best_step[e] = step
                history.append(
                    {
                        "step": step,
                        "member": e,
                        "valid": float(scores[e]),
                        "loss": float(loss[e]),
                        "lr": lr,
                        "seconds": now - last,
                    }
                )
            last = now
            save()
            if log is not None and (step // eval_steps) % log_every == 0:
                log(
                    f"step {step:6d}/{max_steps} (epoch {step / per_epoch:5.1f})  valid NMSE "
                    f"{float(scores.min()):.4f}..{float(scores.max()):.4f}  members stopped "
                    f"{int((since >= settings.patience).sum())}/{E}"
                )
    save()
    if log is not None:
        log(
            f"ended at step {step}/{max_steps}: best valid NMSE {float(best_valid.min()):.4f}.."
            f"{float(best_valid.max()):.4f}, members stopped {int((since >= settings.patience).sum())}/{E}"
        )
    model.load_state_dict(best_state)
    model.eval()
    columns = ["step", "member", "valid", "loss", "lr", "seconds"]
    return FitResult(
        history=pd.DataFrame(history, columns=columns),
        steps=step,
        steps_per_epoch=per_epoch,
        best_step=best_step,
        best_valid=best_valid.tolist(),
        seconds=elapsed + time.perf_counter() - start,
    )


@torch.no_grad()
def predict(
    model: FNO1d, u: torch.Tensor, task: Task, start: int = 0, batch: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions and the matching true rows for test trajectories u (n, nt, nx).

    Bundled task: roll out from rows [start, start + n_in), n_out rows at a time, for as many
    whole bundles as fit: (pred, true), pred (n, n_bundles * n_out, nx). Single-time task: the
    one window, (n, n_out, nx) each. An ensemble of E members gives pred (E, n, rows, nx)
    (every member on the same trajectories) and true (n, rows, nx).
    """
    if u.ndim != 3:
        raise ValueError(f"u must have shape (n, nt, nx); got {tuple(u.shape)}")
    device = next(model.parameters()).device
    E, nt = model.members, u.shape[1]

    def run(x):  # x (n, n_in, nx) -> (E, n, n_out, nx) on CPU
        return model(x.to(device)[None].expand(E, *x.shape)).cpu()

    if task.start is not None:
        if task.start + task.span > nt:
            raise ValueError(f"the task needs rows up to {task.start + task.span - 1}; u has {nt}")
        inputs = u[:, task.start : task.start + task.n_in]
        pred = torch.cat([run(inputs[i : i + batch]) for i in range(0, len(u), batch)], 1)
        true = u[:, task.start + task.lead : task.start + task.span]
    else:
        n_bundles = (nt - start - task.n_in) // task.n_out
        if not isinstance(start, int) or start < 0 or n_bundles < 1:
            raise ValueError(
                f"start must be an integer >= 0 leaving at least {task.n_in + task.n_out} "
                f"rows; got start={start!r} with {nt} rows"
            )
        out = []
        for i in range(0, len(u), batch):
            state, rows = u[i : i + batch, start : start + task.n_in].to(device)[None].expand(E, -1, -1, -1), []
            for _ in range(n_bundles):
                state = model(state)
                rows.append(state.cpu())
            out.append(torch.cat(rows, 2))
        pred = torch.cat(out, 1)
        first = start + task.n_in
        true = u[:, first : first + n_bundles * task.n_out]
    return (pred[0] if E == 1 else pred), true


def nmse(model: FNO1d, u: torch.Tensor, task: Task) -> torch.Tensor:
    """Per-trajectory normalised MSE |pred - true|^2 / |true|^2 over all predicted rows of the
    rollout from row 0 (or of the single window): (n,), or (E, n) for an ensemble."""
    pred, true = predict(model, u, task)
    return ((pred - true) ** 2).sum((-2, -1)) / (true**2).sum((-2, -1)).clamp_min(1e-30)


def cumulative_nmse(model: FNO1d, u: torch.Tensor, task: Task, start: int = 20) -> torch.Tensor:
    """LPSDA's cumulative NMSE (Brandstetter, Welling & Worrall 2022): the rollout from rows
    [start, start + n_in) and, per trajectory, the sum over the predicted rows j of
    mean_x (pred_j - u_j)^2 / mean_x u_j^2 (with start 20: rows 40..139 of 140). (n,) or (E, n)."""
    if task.start is not None:
        raise ValueError("cumulative_nmse needs a rolled-out task (Task.start None)")
    pred, true = predict(model, u, task, start=start)
    return (((pred - true) ** 2).mean(-1) / (true**2).mean(-1).clamp_min(1e-30)).sum(-1)
