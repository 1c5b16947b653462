"""The one loop that learns generator fields, for PDEs and images alike.

A domain supplies a *step*: a function (iteration, rng) -> (loss, record) that draws its batch
from `rng`, computes the scalar loss (validity + orthonormality + Lipschitz, or whatever the
domain's objective is) and a record of floats (its loss terms and the per-generator validities
S1..SN). `learn` owns everything else, identically for every domain:

    Adam on the field's parameters; the learning rate drops by 10x from `decay_at` of the run;
    the gradient's norm is clipped to `clip` (None: not clipped) before each step;
    a NaN/inf loss raises `NonFiniteLoss` naming the iteration and every term, before any
    parameter moves, and leaves the last good checkpoint in place (the domains check their data
    first with `check_finite`);
    the checkpoint (written atomically every `checkpoint_every` iterations and at the end)
    holds the field, the optimiser, the random generator and the history, so a rerun resumes
    exactly where the last one stopped; a checkpoint of another run (its `identity` differs)
    or one that cannot be read (damaged) is an error naming the file;
    a history with one row per iteration: iteration (from 0), loss, lr, the record, grad_norm
    (before clipping), seconds (the step's time, without logging, checkpoints or callbacks);
    a one-line log every `log_every` iterations, whenever `log_seconds` have passed since the
    last line, and at the end.

    learn(field, step, schedule, identity, seed, checkpoint) -> history (DataFrame)

With a `Plateau` rule and a `score` (a function of the field measured on validation data, lower is
better), the run also stops when it has converged: every `plateau.every` iterations the score is
measured (history column `valid_score`); when it has not improved for `plateau.patience`
measurements the learning rate drops 10x, and when that happens again the run stops. The
iteration budget stays the cap.

The checkpoint conventions are shared with the other training loops (`symflow.pde.fno.fit`,
`symflow.image.images.train_classifier`) through `save_checkpoint` and `load_checkpoint`. Their
typed settings (`symflow.image.images.ClassifierTraining`,
`symflow.image.image_symmetries.ImageLearning`) are read from a notebook's settings dict by
`settings_from` and checked by `check_settings`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from . import io

Step = Callable[[int, torch.Generator], "tuple[torch.Tensor, dict[str, float]]"]


class NonFiniteLoss(FloatingPointError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class Schedule:
    """How long and how fast a field learns.

    iterations: optimiser steps (>= 1); lr: Adam's learning rate; decay_at: the fraction of the
    run from which the rate is lr / 10 (1.0: never); clip: the gradient norm is clipped to it
    (None: not clipped); log_every, checkpoint_every: iterations between log lines and between
    checkpoints (0: only at the end); log_seconds: a log line is also written when this many
    seconds have passed since the last one (0: only by iterations), so that a slow run (fewer
    threads, a larger model) still shows progress.
    """

    iterations: int
    lr: float
    decay_at: float = 1.0
    clip: float | None = None
    log_every: int = 10
    checkpoint_every: int = 0
    log_seconds: float = 20.0

    def __post_init__(self):
        if not isinstance(self.iterations, int) or self.iterations < 1:
            raise ValueError(f"iterations must be a positive integer; got {self.iterations!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive; got {self.lr!r}")
        if self.clip is not None and not self.clip > 0:
            raise ValueError(f"clip must be positive or None; got {self.clip!r}")

    def lr_at(self, iteration: int) -> float:
        return self.lr * (0.1 if iteration >= self.decay_at * self.iterations else 1.0)


@dataclass(frozen=True)
class Plateau:
    """When a run has converged, from a validation score measured every `every` iterations.

    A measurement improves when it is below the best so far by more than `tol` (absolute; the
    score's own units). After `patience` measurements in a row without improvement the learning
    rate drops 10x (once, unless the schedule's `decay_at` already dropped it), and after
    `patience` more without improvement at the lower rate the run stops. Nothing happens before
    `min_iterations`.
    """

    every: int
    patience: int
    tol: float
    min_iterations: int = 0

    def __post_init__(self):
        check_settings(self, integers=("every", "patience"), non_negative=("tol", "min_iterations"))

    @staticmethod
    def initial_state() -> dict:
        return {"best": math.inf, "bad": 0, "decayed": False, "stopped": False}

    def update(self, state: dict, iteration: int, score: float) -> str:
        """Record `score` measured after `iteration` iterations in `state` (updated in place):
        "continue", "decay" (drop the learning rate now) or "stop"."""
        if score < state["best"] - self.tol:
            state["best"], state["bad"] = score, 0
            return "continue"
        state["best"] = min(state["best"], score)
        state["bad"] += 1
        if state["bad"] < self.patience or iteration < self.min_iterations:
            return "continue"
        state["bad"] = 0
        if not state["decayed"]:
            state["decayed"] = True
            return "decay"
        state["stopped"] = True
        return "stop"


def check_settings(
    settings, integers: tuple[str, ...] = (), positive: tuple[str, ...] = (), non_negative: tuple[str, ...] = ()
) -> None:
    """Check the attributes of a settings object (e.g. a frozen dataclass) by name: those in
    `integers` must be positive integers, those in `positive` finite numbers > 0 and those in
    `non_negative` finite numbers >= 0 (a bool is neither). The first that is not is a ValueError
    naming the class, the attribute, what it accepts and the value it got."""
    where = type(settings).__name__
    for name in integers:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{where}: {name} must be a positive integer; got {value!r}")
    for name in (*positive, *non_negative):
        value = getattr(settings, name)
        number = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        if not number or value < 0 or (value == 0 and name in positive):
            kind = "positive" if name in positive else "non-negative"
            raise ValueError(f"{where}: {name} must be a finite {kind} number; got {value!r}")


def settings_from(cls, settings: Mapping, optional: tuple[str, ...] = ()):
    """The dataclass `cls` with each of its fields read from the key of the same name in
    `settings` (a mapping that may hold other keys too, which are ignored); a field named in
    `optional` that `settings` lacks keeps its default. Fields that `settings` lacks and that are
    not optional are a KeyError naming them and listing the keys `cls` needs."""
    names = [field.name for field in dataclasses.fields(cls)]
    needed = [name for name in names if name not in optional]
    missing = [name for name in needed if name not in settings]
    if missing:
        extra = f" ({', '.join(optional)} optional)" if optional else ""
        raise KeyError(f"{cls.__name__} settings lack {', '.join(missing)}; they need {', '.join(needed)}{extra}")
    return cls(**{name: settings[name] for name in names if name in settings})


def check_finite(x: torch.Tensor, name: str) -> torch.Tensor:
    """Return `x` if every entry is finite, else raise a ValueError naming `name`, how many entries
    are NaN or infinite and the index of the first (so that bad data fails before training)."""
    bad = ~torch.isfinite(x)
    if bad.any():
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"{name} hold {int(bad.sum())} NaN or infinite values (the first at index {first} of shape "
            f"{tuple(x.shape)}); check the data they come from"
        )
    return x


def _every(n: int, iteration: int) -> bool:
    return bool(n) and (iteration + 1) % n == 0


def log_line(name: str, values: dict, n_iterations: int) -> str:
    """One history row as a log line: loss, the S_a, the other terms, |grad|, s/it."""
    skip = {"iteration", "loss", "lr", "grad_norm", "seconds"}
    s = [f"{v:.2f}" for k, v in values.items() if k[:1] == "S" and k[1:].isdigit()]
    rest = [f"{k} {v:.3g}" for k, v in values.items() if k not in skip and not (k[:1] == "S" and k[1:].isdigit())]
    return (
        f"{name} it {values['iteration'] + 1}/{n_iterations}  loss {values['loss']:.4f}  S "
        + " ".join(s)
        + "  "
        + " ".join(rest)
        + f"  |grad| {values['grad_norm']:.3g}  {values['seconds']:.2f} s/it"
    )


def learn(
    field: torch.nn.Module,
    step: Step,
    schedule: Schedule,
    identity: dict,
    seed: int = 0,
    checkpoint=None,
    name: str = "run",
    log=print,
    callback=None,
    callback_every: int = 0,
    plateau: Plateau | None = None,
    score=None,
) -> pd.DataFrame:
    """Train `field` in place by Adam on `step`'s loss; returns the history (module docstring).

    identity: what makes this run this run (settings, seed, data name): stored in the checkpoint
    and compared on resume. rng: torch.Generator seeded with `seed`, passed to every step.
    callback: optional callable(iterations_done, field), called after every `callback_every`
    iterations; when it returns True the run stops there (the checkpoint records that iteration).
    log: callable(str) or None (silent).
    plateau, score: the convergence rule and its validation score, a callable(field) -> float,
    lower is better, evaluated without gradients (both or neither); the rule's state is kept in
    the checkpoint.
    """
    if (plateau is None) != (score is None):
        raise ValueError("plateau and score go together: give both or neither")
    log = log or (lambda line: None)
    optimiser = torch.optim.Adam(field.parameters(), lr=schedule.lr)
    rng = torch.Generator().manual_seed(seed)
    history, start, converged = _resume(checkpoint, identity, field, optimiser, rng, name, log)
    converged = converged or Plateau.initial_state()

    def save(iteration):
        if checkpoint is not None:
            state = {
                "iteration": iteration,
                "field": field.state_dict(),
                "optimiser": optimiser.state_dict(),
                "rng": rng.get_state(),
                "history": history,
                "converged": converged,
            }
            save_checkpoint(checkpoint, identity, state)

    n_it = done = schedule.iterations
    last_line = time.monotonic()
    for it in range(start if not converged["stopped"] else n_it, n_it):
        history.append(_iteration(field, step, schedule, optimiser, rng, it, name, checkpoint, history, converged))
        action = "continue"
        if plateau is not None and _every(plateau.every, it):
            with torch.no_grad():
                history[-1]["valid_score"] = float(score(field))
            action = plateau.update(converged, it + 1, history[-1]["valid_score"])
            if action == "decay":
                log(
                    f"{name}: validation score {history[-1]['valid_score']:.3f} has not improved by {plateau.tol:g} "
                    f"in {plateau.patience} measurements; learning rate / 10 from iteration {it + 2}"
                )
        late = schedule.log_seconds > 0 and time.monotonic() - last_line >= schedule.log_seconds
        if _every(schedule.log_every, it) or it + 1 == n_it or late or action == "stop":
            log(log_line(name, history[-1], n_it))
            last_line = time.monotonic()
        if action == "stop":
            done = it + 1
            log(f"{name}: converged after iteration {done} (validation score {converged['best']:.3f})")
            break
        if _every(schedule.checkpoint_every, it) and it + 1 < n_it:
            save(it + 1)
        if callback is not None and _every(callback_every, it) and callback(it + 1, field) is True:
            done = it + 1
            log(f"{name}: stopped by the callback after iteration {done}")
            break
    else:
        done = len(history) if converged["stopped"] else n_it
    save(done)
    return pd.DataFrame(history)


_CHECKPOINT_KEYS = {"identity", "iteration", "field", "optimiser", "rng", "history"}


def save_checkpoint(path, identity, state: dict) -> Path:
    """Write {"identity": identity, **state} to `path` with torch.save, atomically (`io.atomic_path`):
    `path` holds the previous checkpoint or this one, never a part. `identity` is what makes the run
    this run (settings, seeds, data name); `load_checkpoint` compares it. Returns `path`."""
    if "identity" in state:
        raise ValueError("state must not hold the key 'identity'; pass it as identity")
    with io.atomic_path(path) as tmp:
        torch.save({"identity": identity, **state}, tmp)
    return Path(path)


def load_checkpoint(path, identity, keys, map_location=None) -> dict | None:
    """The checkpoint `save_checkpoint` wrote to `path` (a dict holding "identity" and `keys`), or
    None when `path` is None or does not exist. Tensors are loaded onto `map_location`.

    Raises a ValueError naming `path` when it cannot be read (damaged: truncated, random bytes,
    empty), is not a checkpoint of this training loop (not a dict holding the keys), or belongs
    to another run (its identity differs from `identity`). The file is left as it is.
    """
    if path is None or not Path(path).exists():
        return None
    required = {"identity", *keys}
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # truncated zip, random bytes, empty file: torch raises many kinds
        raise ValueError(
            f"checkpoint {path} cannot be read ({type(err).__name__}: {err}); it is damaged: "
            "delete it to start this run afresh"
        ) from err
    if not isinstance(state, dict) or not required <= set(state):
        raise ValueError(
            f"checkpoint {path} is not a checkpoint of this training loop (it holds a {type(state).__name__} "
            f"without the keys {sorted(required)}); delete it or use another output_dir"
        )
    if state["identity"] != identity:
        raise ValueError(
            f"checkpoint {path} belongs to another run (its settings, seed or data differ); "
            "delete it or use another output_dir"
        )
    return state


def _resume(checkpoint, identity, field, optimiser, rng, name, log) -> tuple[list, int, dict | None]:
    """Load `checkpoint` into field, optimiser and rng when it exists: (history, next iteration,
    the convergence rule's state or None).

    A checkpoint that cannot be read, is not one of `learn`'s, or belongs to another run (its
    identity differs) raises a ValueError naming it (`load_checkpoint`); it is left as it is.
    """
    device = next(field.parameters()).device if checkpoint is not None else None
    state = load_checkpoint(checkpoint, identity, _CHECKPOINT_KEYS, map_location=device)
    if state is None:
        return [], 0, None
    field.load_state_dict(state["field"])
    optimiser.load_state_dict(state["optimiser"])
    rng.set_state(state["rng"].cpu())  # a CPU generator's state, whatever map_location moved it to
    log(f"{name}: resumed from {checkpoint} at iteration {state['iteration']}")
    return state["history"], state["iteration"], state.get("converged")


def _iteration(field, step, schedule, optimiser, rng, it, name, checkpoint, history, converged) -> dict:
    """One optimiser step; returns its history row. Raises NonFiniteLoss before moving anything.
    The learning rate is the schedule's, divided by 10 once the convergence rule has dropped it
    (unless the schedule already has)."""
    lr = schedule.lr_at(it)
    if converged["decayed"] and not it >= schedule.decay_at * schedule.iterations:
        lr = schedule.lr * 0.1
    for group in optimiser.param_groups:
        group["lr"] = lr
    tic = time.perf_counter()
    loss, record = step(it, rng)
    values = {"iteration": it, "loss": loss.item(), "lr": lr, **record}
    if not math.isfinite(values["loss"]):
        last = history[-1]["iteration"] + 1 if history else 0
        raise NonFiniteLoss(
            f"{name}: the loss became {values['loss']} at iteration {it}; terms {values}. "
            f"The last good checkpoint ({checkpoint}, iteration {last}) is kept."
        )
    optimiser.zero_grad()
    loss.backward()
    values["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(field.parameters(), schedule.clip or math.inf))
    optimiser.step()
    values["seconds"] = time.perf_counter() - tic
    return values
