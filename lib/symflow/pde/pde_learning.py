"""Learning the Lie point symmetries of a PDE from its solutions (notebook 02).

Generators V_1..V_N are one `GeneratorField` on the normalised (x, t, u), periodic in x. Each
iteration draws `batch` patches (all nx columns, `rows` consecutive time rows) of training
trajectories, moves them along every generator by s_a = +-U(0, sigma) (random sign per
generator), reads the flow at the fractions `times` of s_a, and minimises

    w_sym sum_a S_a + w_ortho L_ortho + w_lip L_lip (+ w_sob L_sob over the last iterations)

with S_a = `pde_graphs.validity` (mean log clamped PDE residual of the moved patches), the
generators scaled to unit norm under an inner product over graph points, and the loss terms of
`symflow.losses`. The inner product (`params["inner"]`) is drawn from the batch's points at
every iteration ("batch", the paper's) or once from the whole training set ("data"). A batch
is two short patches whose mean time varies: under its inner product the centred shear
(t - 1/2) d_x of a Galilean boost has a part along d_x that changes sign from batch to batch,
and the orthonormality term's |cos| pins that part at zero (docs/decisions.md D2). Adam,
on the gradient clipped to norm `clip`; the learning rate drops by 10x at `decay_at` of the run.

    train(equation, graphs, params, checkpoint, seed)    -> field, history
    train_equations(names, profile, params, checkpoints, seed, workers)  several, in parallel processes
    run_identity / load_run_record   a judged run kept beside its checkpoint, reused by a later run
    recovery_table / validity_table / independence / acceptance   the judgement of a learned field
    n_exact(equation)      how many leading generators are judged: the registered exact symmetries
    verdict(checks)        reproduced / not reproduced / undecidable on these data, with the reason
    evaluation_set(equation, profile, evaluate)  the test patches and inner product they are judged on
    judge(equation, field, untrained, patches, inner, seed, s_values)  all three, as notebook 02 reports them

The loop itself (Adam, the learning-rate drop, clipping, checkpoints and resume, the NaN
guard, the history and the log) is `learning.learn`, shared with the image learner.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
import warnings
from io import BytesIO
from pathlib import Path

import pandas as pd
import torch

from .. import io, learning, losses, metrics
from ..generators import Field, GeneratorField, InnerProduct, normalise, orthonormalise, sample_points
from ..learning import NonFiniteLoss  # noqa: F401  (re-exported: the error train raises)
from ..verdicts import VERDICTS  # noqa: F401  (re-exported beside `verdict`)
from ..verdicts import from_checks as verdict  # noqa: F401  (notebook 02: the verdict of its checks)
from . import pde_graphs, pdes

TERMS = ("validity", "ortho", "lipschitz", "sobolev")

# The convergence rule of `train` when params["stop"] is a dict: these, updated by it (`learning.Plateau`
# and `validation_score`).
STOP = {
    "every": 100,
    "patience": 3,
    "tol": 0.05,
    "min_iterations": 300,
    "n_patches": 4,
    "rows": 16,
    "first_row": 60,
    "s": 0.2,
    "steps": 4,
}


def graphs_of(equation: pdes.Equation, ds, dtype=torch.float32) -> torch.Tensor:
    """The normalised graphs of a data set's trajectories: u (S, nt, nx) -> (S, nt, nx, 3)."""
    u = torch.tensor(ds["u"].values, dtype=torch.float64)
    t = torch.tensor(ds["t"].values, dtype=torch.float64)[None, :, None].expand_as(u)
    x = torch.tensor(ds["x"].values, dtype=torch.float64)[None, None, :].expand_as(u)
    return torch.stack(equation.normalise(x, t, u), dim=-1).to(dtype)


def sample_patches(graphs: torch.Tensor, rows: int, batch: int, generator: torch.Generator) -> torch.Tensor:
    """`batch` random patches (batch, rows, nx, 3): random trajectory, random first row."""
    n, nt = graphs.shape[:2]
    if not isinstance(rows, int) or not 7 <= rows <= nt:
        raise ValueError(f"rows must be an integer in [7, {nt}] (the data has {nt} time rows); got {rows!r}")
    which = torch.randint(n, (batch,), generator=generator)
    first = torch.randint(nt - rows + 1, (batch,), generator=generator)
    return torch.stack([graphs[k, f : f + rows] for k, f in zip(which.tolist(), first.tolist())])


def new_field(params: dict, seed: int) -> GeneratorField:
    """The untrained field of a run: seeded initialisation; `params["affine"]` and `params["inputs"]`
    (absent: None) as in GeneratorField."""
    torch.manual_seed(seed)
    return GeneratorField(
        3,
        params["n_generators"],
        params["width"],
        params["head_width"],
        periodic=(0,),
        affine=params["affine"],
        inputs=params.get("inputs"),
    )


INNERS = ("batch", "data")


def loss_terms(
    field: GeneratorField,
    equation,
    patches: torch.Tensor,
    s: torch.Tensor,
    params: dict,
    sobolev: bool,
    generator: torch.Generator,
    inner: InnerProduct | None = None,
) -> dict[str, torch.Tensor]:
    """The loss terms of one batch: validity (N,), ortho, lipschitz, sobolev (scalars).

    inner: the inner product of the unit norms and of the orthonormality term; None draws
    `params["n_inner"]` of the batch's points.
    """
    if inner is None:
        inner = InnerProduct(sample_points(patches, params["n_inner"], generator))
    at_inner = field(inner.points)  # (n_inner, 3, N), reused
    V = normalise(field, inner, at_points=at_inner)
    validity = pde_graphs.validity(
        V,
        equation,
        patches,
        s,
        params["steps"],
        params["times"],
        method=params["method"],
        row_order=params["row_order"],
        adjoint=params["adjoint"],
    )
    grid = patches[0]  # (rows, nx, 3)
    values = V(grid.reshape(-1, 3)).reshape(*grid.shape, -1)  # (rows, nx, 3, N)
    return {
        "validity": validity,
        "ortho": losses.orthonormality(at_inner * V.scale, inner, params["ortho_mode"]),
        "lipschitz": losses.lipschitz(values, params["tau"], grid),
        "sobolev": losses.sobolev(values, axis=1) if sobolev else values.new_zeros(()),
    }


def warmed_up(weights: dict, iteration: int, warmup: int) -> dict:
    """`weights` with w_sym scaled by min(1, iteration / warmup): over the first `warmup` iterations
    the validity term fades in, so the regularisers first spread the generators apart (0: off)."""
    return {**weights, "sym": weights["sym"] * min(1.0, iteration / warmup)} if warmup else weights


def total_loss(terms: dict, weights: dict) -> torch.Tensor:
    return (
        weights["sym"] * terms["validity"].sum()
        + weights["ortho"] * terms["ortho"]
        + weights["lip"] * terms["lipschitz"]
        + weights["sob"] * terms["sobolev"]
    )


def train(
    equation,
    graphs: torch.Tensor,
    params: dict,
    checkpoint=None,
    seed: int = 0,
    log=print,
    device="cpu",
    callback=None,
    callback_every: int = 0,
    valid_graphs: torch.Tensor | None = None,
    snapshots: list | None = None,
    snapshot_every: int = 0,
) -> tuple[GeneratorField, pd.DataFrame]:
    """Learn `params["n_generators"]` generators on the training graphs (S, nt, nx, 3).

    params: n_generators, width, head_width, rows, batch, iterations, lr, decay_at, clip (the
    gradient's norm is clipped to it before each Adam step; None: no clipping), sigma,
    steps, times, n_inner, inner ("batch" or "data": see the module's docstring; "data" draws
    n_inner points of all training graphs once, with the seed), affine and inputs (`GeneratorField`),
    adjoint (back-propagate through the flows by the adjoint method: memory independent of
    `steps`), tau, dtype ("float32" or "float64": the precision of the graphs, the field and
    the residual), weights {sym, ortho, lip, sob}, ortho_mode
    (`losses.orthonormality`), sym_warmup (`warmed_up`), sobolev_from (fraction of the run after
    which L_sob is on), method, row_order, checkpoint_every, log_every; optional `stop` (absent or
    None: the fixed schedule), the convergence rule `learning.Plateau` (every, patience, tol,
    min_iterations) on the score `validation_score` of the validation graphs `valid_graphs`
    (n_patches, rows, first_row, s, steps; missing keys from STOP), needed when `stop` is set;
    `snapshots` (a list) receives (iterations, field state) every `snapshot_every` iterations and
    at the end (then `callback` runs at the same iterations; a resumed run keeps those after
    its resumption).
    checkpoint, callback, callback_every, log: as in `learning.learn`, which runs the loop.
    Graphs holding NaN or inf are a ValueError before any iteration (`learning.check_finite`).
    Returns the field and the history (one row per iteration: loss, lr, S1..SN, ortho,
    lipschitz, sobolev, grad_norm before clipping, seconds).
    """
    eq = pde_graphs.as_equation(equation)
    if params["dtype"] not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {params['dtype']!r}")
    if params["inner"] not in INNERS:
        raise ValueError(f"inner must be one of {INNERS}; got {params['inner']!r}")
    dtype = getattr(torch, params["dtype"])
    graphs = learning.check_finite(graphs.to(device=device, dtype=dtype), "the training graphs")
    sample_patches(graphs, params["rows"], 1, torch.Generator().manual_seed(0))  # checks rows
    fixed_inner = None
    if params["inner"] == "data":
        fixed_inner = InnerProduct(sample_points(graphs, params["n_inner"], torch.Generator().manual_seed(seed)))
    field = new_field(params, seed).to(device=device, dtype=dtype)
    n_it, n_gen = params["iterations"], params["n_generators"]

    def step(it: int, rng: torch.Generator):
        patches = sample_patches(graphs, params["rows"], params["batch"], rng)
        sign = torch.randint(2, (n_gen,), generator=rng) * 2 - 1
        s = (sign * torch.rand(n_gen, generator=rng) * params["sigma"]).to(device)
        terms = loss_terms(field, eq, patches, s, params, it >= params["sobolev_from"] * n_it, rng, fixed_inner)
        loss = total_loss(terms, warmed_up(params["weights"], it, params["sym_warmup"]))
        return loss, {
            **{f"S{a + 1}": v.item() for a, v in enumerate(terms["validity"].detach())},
            **{k: terms[k].item() for k in TERMS[1:]},
        }

    schedule = learning.Schedule(
        n_it, params["lr"], params["decay_at"], params["clip"], params["log_every"], params["checkpoint_every"]
    )
    plateau = score = None
    if params.get("stop"):
        stop = {**STOP, **params["stop"]}
        if valid_graphs is None:
            raise ValueError("params['stop'] is set: train needs valid_graphs, the validation graphs it is measured on")
        plateau = learning.Plateau(stop["every"], stop["patience"], stop["tol"], stop["min_iterations"])
        score = validation_score(eq, valid_graphs, stop, params["method"], params["row_order"])
    callback_keep = None
    if snapshots is not None:
        if not (isinstance(snapshot_every, int) and snapshot_every >= 1):
            raise ValueError(
                f"snapshot_every must be a positive integer when snapshots are kept; got {snapshot_every!r}"
            )

        def callback_keep(iterations, trained):
            snapshots.append((iterations, copy.deepcopy(trained.state_dict())))
            return None if callback is None else callback(iterations, trained)

    history = learning.learn(
        field,
        step,
        schedule,
        {"params": params, "seed": seed, "equation": eq.name},
        seed,
        checkpoint,
        f"{eq.name} seed {seed}",
        log,
        callback_keep or callback,
        snapshot_every if callback_keep else callback_every,
        plateau,
        score,
    )
    if snapshots is not None and (not snapshots or snapshots[-1][0] != len(history)):
        snapshots.append((len(history), copy.deepcopy(field.state_dict())))  # the final field
    return field, history


def validation_score(equation, valid_graphs: torch.Tensor, stop: dict, method: str, row_order: int):
    """The convergence score of `train`'s `stop` rule: a function field -> the mean validity at
    s = stop["s"] (`stop["steps"]` RK4 steps) of all its generators, scaled to unit norm under an
    inner product of 2048 validation graph points, on `stop["rows"]` rows from `stop["first_row"]`
    of the first `stop["n_patches"]` validation trajectories (lower is better). The test data that
    the acceptance checks use play no part."""
    eq = pde_graphs.as_equation(equation)
    r0, nr = stop["first_row"], stop["rows"]
    patches = valid_graphs[: stop["n_patches"], r0 : r0 + nr].to(torch.float64)
    if patches.shape[1] < nr:
        raise ValueError(
            f"stop: rows {r0}..{r0 + nr} lie beyond the {valid_graphs.shape[1]} rows of the validation data"
        )
    inner = evaluation_inner(valid_graphs, 2048, seed=0)

    def score(field) -> float:
        return float(field_validity(field, eq, patches, inner, stop["s"], stop["steps"], method, row_order).mean())

    return score


def time_to_checks(
    equation,
    params: dict,
    seed: int,
    history: pd.DataFrame,
    snapshots: list,
    evaluate: dict,
    patches,
    inner,
    registered: pd.DataFrame,
) -> dict:
    """When a run first passed every acceptance check: the snapshots (iterations, field state) of
    `train` are judged in order as `judge` judges a field (a `Referee` on the test `patches` and
    `inner`, with notebook 02's `evaluate` settings) until one passes. registered: the validity
    rows of the registered fields on these patches at (at least) the s_check candidates, as `judge`
    returns them (rows of kind "learned" are ignored); the check time is chosen from them. Returns
    iterations_to_checks and time_to_checks_s (the training seconds of the history up to that
    iteration), both None when no snapshot passes, and snapshots_judged. Judging afterwards does
    not steer the training."""
    eq = pde_graphs.as_equation(equation)
    derivative = {"steps": evaluate["steps"], "method": params["method"], "row_order": params["row_order"]}
    registered = registered[registered.kind != "learned"]
    s_check = check_time(registered, evaluate["s_check"])
    at = registered[registered.s == s_check]
    referee = Referee(eq, new_field(params, seed), patches, inner, seed, s_check, at, n_exact(eq), derivative)
    field = new_field(params, seed)
    for k, (iteration, state) in enumerate(snapshots):
        field.load_state_dict(state)
        _, checks = referee.checks(field)
        if bool(checks.passed.all()):
            seconds = float(history["seconds"].iloc[:iteration].sum())
            return {"iterations_to_checks": int(iteration), "time_to_checks_s": seconds, "snapshots_judged": k + 1}
    return {"iterations_to_checks": None, "time_to_checks_s": None, "snapshots_judged": len(snapshots)}


# The judged run that `_train_from_data` keeps beside its checkpoint <stem>.pt, as <stem>_record.pt
# (git-ignored like the checkpoints).
RECORD_SUFFIX = "_record.pt"


def _library_digest() -> str:
    """sha256 of the source of every module of the symflow package (its .py files, by relative path)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def run_identity(name: str, profile: str, params: dict, seed: int, device, evaluate: dict) -> dict:
    """What makes a judged run of `_train_from_data` this run: the equation, profile, settings
    (params, evaluate), seed and device, the library's source (`_library_digest`) and the size and
    modification time of the data files it reads (train, valid, test). Two runs with equal
    identities compute the same result (up to rounding that depends on the number of threads)."""
    from . import solvers

    data = {}
    for split in ("train", "valid", "test"):
        path = solvers.data_path(name, split, profile)
        stat = path.stat() if path.exists() else None
        data[split] = None if stat is None else [stat.st_size, stat.st_mtime_ns]
    return {
        "equation": name,
        "profile": profile,
        "params": params,
        "evaluate": evaluate,
        "seed": seed,
        "device": str(device),
        "library": _library_digest(),
        "data": data,
    }


def run_record_path(checkpoint) -> Path:
    """Where the judged run of the run checkpointed at `checkpoint` (<stem>.pt) is kept: <stem>_record.pt
    beside it."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + RECORD_SUFFIX)


def load_run_record(path, identity: dict) -> bytes | None:
    """The serialised judged run (as `_train_from_data` returns it) kept in the record `path`
    (`run_record_path`) when its identity equals `identity`; None when there is none, it belongs to
    another identity, or it cannot be read (a damaged record is ignored, never trusted)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        record = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # damaged: truncated or not a record
        return None
    if not isinstance(record, dict) or record.get("identity") != identity or "blob" not in record:
        return None
    return record["blob"]


def _train_from_data(
    name: str, profile: str, params: dict, checkpoint, seed: int, device, evaluate=None, earlier=None, log=print
) -> bytes:
    """One `train` run on the training split of `name` at `profile` (a job of `train_equations`),
    serialised by torch.save: the field's state, the history, the wall seconds of the training
    (data loading included) and, when `evaluate` (notebook 02's settings) is given, the run judged
    in this process: `judge`'s (recovery, validity, checks) of the final field on the test patches
    at the flow times s_values and s_curve, and `time_to_checks` of its snapshots (every
    `evaluate["snapshot_every"]` iterations and the last);
    `judging_s`: the seconds all judging took.

    With `evaluate`, the judged run is also kept beside the checkpoint (`run_record_path`, written
    atomically) under its `run_identity`. A run whose identity matches the record beside its
    checkpoint, or the record at `earlier` (a path: another run's), returns that record instead of
    training and judging again; its timing then holds `reused_record`, the record's path. That is
    how notebook 02's default run gathers the one-equation runs that make runs before it."""
    from . import solvers

    identity = run_identity(name, profile, params, seed, device, evaluate) if evaluate is not None else None
    records = [run_record_path(checkpoint)] + ([Path(earlier)] if earlier else [])
    for record in records if identity is not None else []:
        blob = load_run_record(record, identity)
        if blob is not None:
            log(f"{name} seed {seed}: reusing the judged run {io.repo_relative(record)} (same settings, library, data)")
            saved = torch.load(BytesIO(blob), map_location="cpu", weights_only=False)
            saved["timing"] = {**saved["timing"], "reused_record": str(io.repo_relative(record))}
            buffer = BytesIO()
            torch.save(saved, buffer)
            return buffer.getvalue()
    tic = time.perf_counter()
    eq = pdes.get(name)
    graphs = graphs_of(eq, solvers.dataset(name, "train", profile, device=device))
    valid = graphs_of(eq, solvers.dataset(name, "valid", profile, device=device)) if params.get("stop") else None
    snapshots = [] if evaluate is not None else None
    field, history = train(
        name,
        graphs,
        params,
        checkpoint=checkpoint,
        seed=seed,
        log=log,
        device=device,
        valid_graphs=valid,
        snapshots=snapshots,
        snapshot_every=evaluate["snapshot_every"] if evaluate is not None else 0,
    )
    wall = time.perf_counter() - tic
    timing, judged = {}, None
    if evaluate is not None:
        patches, inner = evaluation_set(eq, profile, evaluate, device)
        s_all = sorted(set(evaluate["s_values"]) | set(evaluate["s_curve"]))
        judged = judge(
            eq,
            field,
            new_field(params, seed),
            patches,
            inner,
            seed,
            s_all,
            steps=evaluate["steps"],
            method=params["method"],
            row_order=params["row_order"],
            s_check=evaluate["s_check"],
        )
        if snapshots:
            timing = time_to_checks(eq, params, seed, history, snapshots, evaluate, patches, inner, judged[1])
            log(
                f"{name} seed {seed}: first passed every check after {timing['iterations_to_checks']} iterations "
                f"({timing['snapshots_judged']} snapshots judged)"
            )
        timing["judging_s"] = time.perf_counter() - tic - wall
    buffer = BytesIO()
    torch.save(
        {"state": field.state_dict(), "history": history, "wall_s": wall, "timing": timing, "judged": judged}, buffer
    )
    blob = buffer.getvalue()
    if identity is not None:
        with io.atomic_path(run_record_path(checkpoint)) as tmp:
            torch.save({"identity": identity, "blob": blob}, tmp)
    return blob


def train_equations(
    names,
    profile: str,
    params: dict,
    checkpoints: dict,
    seed: int = 0,
    device="cpu",
    workers: int = 1,
    log=print,
    evaluate: dict | None = None,
    earlier: dict | None = None,
) -> dict[str, tuple[GeneratorField, pd.DataFrame, float, dict, tuple | None]]:
    """`train` for each equation name of `names` on its training split at `profile`, `workers`
    at a time in separate processes (`symflow.parallel.map_jobs`; 1: here, one after another).

    checkpoints: name -> checkpoint path (each run resumes from its own). Every run is the same
    whichever process trains it, except for floating-point rounding that depends on the number
    of threads. With `params["stop"]`, each run stops when converged on its validation split.
    With `evaluate` (notebook 02's settings), each run is also judged in its own process
    (`_train_from_data`). Returns name -> (field on `device`, history, wall seconds of the
    training including loading its data, timing: `time_to_checks` and judging_s,
    empty without `evaluate`; judged: `judge`'s (recovery, validity, checks), None without
    `evaluate`). earlier: name -> the record (`run_record_path`) of another run of the same
    equation that may be reused when its `run_identity` matches (`_train_from_data`).
    """
    from .. import parallel

    names = list(names)
    missing = [name for name in names if name not in checkpoints]
    if missing:
        raise ValueError(f"checkpoints has no path for {missing}; it must map every name of `names` to a path")
    earlier = earlier or {}
    jobs = [
        (name, profile, params, str(checkpoints[name]), seed, device, evaluate, earlier.get(name)) for name in names
    ]
    results = parallel.map_jobs(_train_from_data, jobs, workers, log)
    out = {}
    for name, blob in zip(names, results):
        saved = torch.load(BytesIO(blob), map_location=device, weights_only=False)
        field = new_field(params, seed).to(device=device, dtype=getattr(torch, params["dtype"]))
        field.load_state_dict(saved["state"])
        out[name] = (field, saved["history"], saved["wall_s"], saved["timing"], saved["judged"])
    return out


# ---------------------------------------------------------------------------------------------
# Judging a learned field against the registry.


def known_names(equation) -> list[tuple[str, str]]:
    """(name, kind) of every registered field of the equation, in registry order."""
    return [(s.name, s.kind) for s in pde_graphs.as_equation(equation).symmetries]


def evaluation_set(equation, profile: str, evaluate: dict, device="cpu") -> tuple[torch.Tensor, InnerProduct]:
    """What notebook 02 judges a field on: (test patches, evaluation inner product), float64.

    The patches are `evaluate["rows"]` rows from `evaluate["first_row"]` of the first
    `evaluate["n_patches"]` test trajectories; the inner product draws `evaluate["n_points"]`
    test graph points (seed 0). Reads data/<profile>/<Equation>_test.nc (generated when missing).
    """
    from . import solvers

    eq = pde_graphs.as_equation(equation)
    test = graphs_of(eq, solvers.dataset(eq.name, "test", profile, device=device), torch.float64)
    r0, nr = evaluate["first_row"], evaluate["rows"]
    return test[: evaluate["n_patches"], r0 : r0 + nr], evaluation_inner(test, evaluate["n_points"], seed=0)


def evaluation_inner(graphs: torch.Tensor, n_points: int, seed: int = 0) -> InnerProduct:
    """The inner product of the tables: mean over `n_points` random graph points (float64)."""
    return InnerProduct(sample_points(graphs, n_points, torch.Generator().manual_seed(seed)).to(torch.float64))


# The flow times at which the validity checks may judge, in this order: the first at which the data
# separate the registered symmetries from the controls by MARGIN (`check_time`), chosen from the
# registered fields alone, before any learned field is scored (docs/decisions.md D9).
S_CHECKS = (0.1, 0.2, 0.4)
S_CHECK = S_CHECKS[0]
MARGIN = 2.0  # a learned field must score this much below the best control field at the check's s


# How many learned fields are judged: one per registered symmetry of JUDGED_KINDS, the exact ones
# and the approximate ones (cKdV's d_t). An approximate symmetry is more valid on the data than any
# control (cKdV at quick: -8.24 against -5.58 at s = 0.4), so a learner finds a field near it among
# its most valid ones. The span and angle checks ask for the exact symmetries (SPAN_KINDS) inside
# the judged span; a judged field beyond them is held to the validity check only, since the learner
# may find a direction more valid than the registered approximate one (docs/decisions.md D10).
JUDGED_KINDS = ("exact", "approximate")
SPAN_KINDS = ("exact",)


def check_time(validity: pd.DataFrame, candidates=S_CHECKS, margin: float = MARGIN) -> float:
    """The flow time of the validity checks: the first of `candidates` at which the registered
    symmetries of JUDGED_KINDS score at least `margin` below every control field in `validity`
    (columns kind, s, validity; rows of other kinds are ignored), else the last candidate (where
    the checks then are undecidable). A candidate missing from the table is skipped."""
    candidates = [float(c) for c in candidates]
    for s in candidates:
        at = validity[validity.s == s]
        sym, control = at[at.kind.isin(JUDGED_KINDS)].validity, at[at.kind == "control"].validity
        if len(sym) and len(control) and sym.max() <= control.min() - margin:
            return s
    return candidates[-1]


def n_exact(equation) -> int:
    """The number of registered symmetries of `equation` of the JUDGED_KINDS: how many learned
    generators the checks judge (the most valid ones, `most_valid`). ValueError when it has none."""
    eq = pde_graphs.as_equation(equation)
    n = len(eq.symmetries_of(JUDGED_KINDS))
    if n == 0:
        raise ValueError(f"{eq.name} has no symmetry of kinds {JUDGED_KINDS}: nothing to judge against")
    return n


def exact_basis(equation, inner: InnerProduct) -> Field:
    """The symmetries of JUDGED_KINDS of `equation` orthonormalised under `inner` (float64): the
    positive control of every check, which it must pass (any basis of their span is as valid)."""
    return orthonormalise(pde_graphs.as_equation(equation).known_fields(kinds=JUDGED_KINDS), inner)


def select(field: Field, indices) -> Field:
    """The generators `indices` (0-based, in that order) of `field` as a fixed float64 field whose
    `labels` are their places in `field` (V1 for index 0), as the validity table names them."""
    from ..generators import FunctionField

    indices = [int(i) for i in indices]
    V = double(field)
    chosen = FunctionField(lambda z: V(z)[..., indices], len(indices), 3)
    chosen.labels = [f"V{i + 1}" for i in indices]
    return chosen


def most_valid(validity: torch.Tensor, n: int) -> list[int]:
    """The indices of the n lowest (most valid) entries of `validity` (N,), in increasing index order."""
    return sorted(int(i) for i in torch.argsort(torch.as_tensor(validity), stable=True)[:n])


def _labels(field: Field, n: int) -> list[str]:
    """The names of the first n generators of `field`: its `labels` (`select`) or V1..Vn."""
    labels = getattr(field, "labels", None) or [f"V{a + 1}" for a in range(field.n_generators)]
    return list(labels[:n])


def _span_name(labels) -> str:
    """ "V1..V3" for consecutive leading labels, else "V1, V3"."""
    labels = list(labels)
    if labels == [f"V{a + 1}" for a in range(len(labels))]:
        return f"V1..V{len(labels)}"
    return ", ".join(labels)


def recovery_table(
    equation, field: Field, untrained: Field, inner: InnerProduct, seed: int, n_span: int | None = None
) -> pd.DataFrame:
    """Fraction of each registered field's norm inside the span of the first `n_span` learned
    (and untrained) generators (default `n_exact`), and the same as an angle (degrees, arccos of the
    fraction): columns equation, seed, field, kind, is_symmetry, fraction_in_span,
    fraction_untrained, angle_deg, angle_untrained_deg. The other direction is `learned_in_known`."""
    eq = pde_graphs.as_equation(equation)
    n_span = n_exact(eq) if n_span is None else n_span
    known = eq.known_fields(kinds=pdes.KINDS)(inner.points)
    learned, base = _first_fields(field, untrained, inner, n_span)
    f = metrics.fraction_in_span(known, learned, inner)
    f0 = metrics.fraction_in_span(known, base, inner)
    return pd.DataFrame(
        [
            {
                "equation": eq.name,
                "seed": seed,
                "field": name,
                "kind": kind,
                "is_symmetry": kind in ("exact", "approximate"),
                **_fractions(a, b),
            }
            for (name, kind), a, b in zip(known_names(eq), f, f0)
        ]
    )


def _first_fields(field: Field, untrained: Field, inner: InnerProduct, n_span: int):
    """The first n_span learned and untrained fields at the inner product's points (float64)."""
    with torch.no_grad():
        return double(field)(inner.points)[..., :n_span], double(untrained)(inner.points)[..., :n_span]


def _fractions(learned, untrained) -> dict:
    """A table row's fraction_in_span, fraction_untrained and their angles (degrees)."""
    return {
        "fraction_in_span": float(learned),
        "fraction_untrained": float(untrained),
        "angle_deg": _degrees(learned),
        "angle_untrained_deg": _degrees(untrained),
    }


def _degrees(fraction) -> float:
    return math.degrees(math.acos(min(1.0, float(fraction))))


def learned_in_known(
    equation,
    field: Field,
    untrained: Field,
    inner: InnerProduct,
    seed: int,
    n_span: int | None = None,
    kinds=JUDGED_KINDS,
) -> pd.DataFrame:
    """Each of V1..V{n_span} (learned and untrained; default `n_exact`) against the span of the
    registered fields of `kinds`: columns equation, seed, field, fraction_in_span,
    fraction_untrained, angle_deg, angle_untrained_deg (a learned field that is a symmetry lies
    inside that span: angle 0)."""
    eq = pde_graphs.as_equation(equation)
    n_span = n_exact(eq) if n_span is None else n_span
    known = eq.known_fields(kinds=kinds)(inner.points)
    learned, base = _first_fields(field, untrained, inner, n_span)
    f = metrics.fraction_in_span(learned, known, inner)
    f0 = metrics.fraction_in_span(base, known, inner)
    return pd.DataFrame(
        [
            {"equation": eq.name, "seed": seed, "field": name, **_fractions(x, y)}
            for name, x, y in zip(_labels(field, n_span), f, f0)
        ]
    )


def field_validity(
    field: Field,
    equation,
    graphs: torch.Tensor,
    inner: InnerProduct,
    s: float,
    steps: int = 10,
    method: str = "curvilinear",
    row_order: int = 6,
) -> torch.Tensor:
    """Validity at s of every generator of `field` scaled to unit norm under `inner`, on the
    patches `graphs` (P, nt, nx, 3), in float64: (N,)."""
    with torch.no_grad():
        return pde_graphs.validity(
            normalise(double(field), inner),
            equation,
            graphs.to(torch.float64),
            float(s),
            steps,
            method=method,
            row_order=row_order,
        )


def validity_table(
    equation,
    field: Field,
    graphs: torch.Tensor,
    inner: InnerProduct,
    s_values,
    seed: int,
    steps: int = 10,
    method: str = "curvilinear",
    row_order: int = 6,
) -> pd.DataFrame:
    """Validity at each s of V1..VN and of every registered field, all scaled to unit norm under
    `inner`, on the patches `graphs` (P, nt, nx, 3); computed in float64. Columns equation,
    seed, field, kind, s, validity."""
    eq = pde_graphs.as_equation(equation)
    known = eq.known_fields(kinds=pdes.KINDS)
    names = [(f"V{a + 1}", "learned") for a in range(field.n_generators)] + known_names(eq)
    derivative = {"steps": steps, "method": method, "row_order": row_order}
    rows = []
    for s in s_values:
        v = torch.cat([field_validity(f, eq, graphs, inner, s, **derivative) for f in (field, known)])
        rows += [
            {"equation": eq.name, "seed": seed, "field": n, "kind": k, "s": float(s), "validity": float(x)}
            for (n, k), x in zip(names, v)
        ]
    return pd.DataFrame(rows)


def independence(field: Field, inner: InnerProduct, n_span: int = 3) -> float:
    """Smallest eigenvalue of the Gram matrix of V1..V{n_span}, each scaled to unit norm under `inner`.

    1 for mutually orthogonal fields, 0 when one lies in the span of the others. It guards the span
    check: generators that have collapsed onto each other still span n_span dimensions numerically,
    and a noise direction can then carry the remaining fraction of a known field.
    """
    with torch.no_grad():
        V = double(field)(inner.points)[..., :n_span]
    return float(torch.linalg.eigvalsh(metrics.cosine_matrix(V, V, inner))[0])


def acceptance(
    recovery: pd.DataFrame,
    validity: pd.DataFrame,
    independent: float,
    s: float = S_CHECK,
    n_learned: int = 3,
    min_independence: float = 0.5,
    max_angle_deg: float = 1.0,
    margin: float = MARGIN,
    labels=None,
    principal: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """The recovery criteria of one field, one row per check with its numbers and `passed`.

    V1..V{n_learned} are independent: `independent` (from `independence`) >= min_independence.
    Every exact symmetry W: fraction_in_span >= 0.98 and 1 - f^2 <= (1 - f_untrained^2) / 5.
    V1..V{n_learned} at s: validity <= worst registered symmetry (JUDGED_KINDS) + 0.5 and <= best
    control - margin.
    Basis-free recovery, when `principal` = (learned, untrained) is given (`principal_angle`): the
    largest principal angle between the span of the exact symmetries and the judged span <=
    max_angle_deg degrees (when both have the same dimension, this bounds both directions).
    `labels`: the judged fields' names (default V1..V{n_learned}); the validity rows of the learned
    fields judged are those with these names. Columns check, value, bound, passed. `judge` also
    applies them to the controls.
    """
    labels = [f"V{a + 1}" for a in range(n_learned)] if labels is None else list(labels)
    span = _span_name(labels)
    out = [
        {
            "check": f"independence: {span}",
            "value": independent,
            "bound": f"smallest eigenvalue of the unit Gram matrix >= {min_independence}",
            "passed": bool(independent >= min_independence),
        }
    ]
    for r in recovery[recovery.kind.isin(SPAN_KINDS)].itertuples():
        left, left0 = 1 - r.fraction_in_span**2, 1 - r.fraction_untrained**2
        out.append(
            {
                "check": f"span: {r.field}",
                "value": r.fraction_in_span,
                "bound": "f >= 0.98 and 1-f^2 <= (1-f0^2)/5",
                "passed": bool(r.fraction_in_span >= 0.98 and left <= left0 / 5),
            }
        )
    if principal is not None:
        worst_angle, untrained = principal
        out.append(
            {
                "check": f"angle: span({span}) and the exact symmetries",
                "value": worst_angle,
                "bound": f"largest principal angle <= {max_angle_deg} degrees (untrained: {untrained:.1f})",
                "passed": bool(worst_angle <= max_angle_deg),
            }
        )
    at = validity[validity.s == s]
    worst = at[at.kind.isin(JUDGED_KINDS)].validity.max()  # the registered symmetries' worst
    best_control = at[at.kind == "control"].validity.min()
    learned = at[at.kind == "learned"].set_index("field")
    for r in learned.loc[[f for f in labels if f in learned.index]].reset_index().itertuples():
        bound = min(worst + 0.5, best_control - margin)
        out.append(
            {
                "check": f"validity: {r.field} at s={s:g}",
                "value": r.validity,
                "bound": f"<= {bound:.2f} (worst symmetry {worst:.2f} + 0.5, "
                f"best control {best_control:.2f} - {margin:g})",
                "passed": bool(r.validity <= bound),
            }
        )
    return pd.DataFrame(out)


def principal_angle(equation, field: Field, inner: InnerProduct, n: int) -> float:
    """The largest principal angle (degrees) between the span of the exact symmetries (SPAN_KINDS)
    and the span of the first n generators of `field`, under `inner`: 0 when the symmetries lie in
    the span."""
    eq = pde_graphs.as_equation(equation)
    with torch.no_grad():
        E = eq.known_fields(kinds=SPAN_KINDS)(inner.points).to(torch.float64)
        V = double(field)(inner.points)[..., :n]
    return math.degrees(float(metrics.principal_angles(E, V, inner).max()))


def _collapsed(field: Field) -> Field:
    """The negative control of the independence check: V1 repeated N times (the generators collapsed)."""
    from ..generators import FunctionField

    V = double(field)

    def fn(z: torch.Tensor) -> torch.Tensor:
        first = V(z)[..., :1]
        return first.expand(*first.shape[:-1], V.n_generators)

    return FunctionField(fn, V.n_generators, 3)


def judge(
    equation,
    field: Field,
    untrained: Field,
    patches: torch.Tensor,
    inner: InnerProduct,
    seed: int,
    s_values,
    steps: int = 10,
    method: str = "curvilinear",
    row_order: int = 6,
    s_check=S_CHECKS,
    n_span: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Everything notebook 02 says about one learned field: (recovery, validity, checks).

    The judged fields are the n_span (default `n_exact`: as many as the equation has exact
    symmetries) most valid of V1..VN at s_check (`most_valid`; the learner orders its generators by
    validity only approximately), named by their labels in `field`; the untrained field is
    represented by its own n_span most valid generators.
    recovery: `recovery_table` of the judged fields against the untrained ones, followed by the
    rows of `learned_in_known` (kind "learned": each judged field against the span of the exact
    symmetries; is_symmetry False);
    validity: `validity_table` on the test `patches` (P, nt, nx, 3) at `s_values` (the s_check
    candidates are added when missing); checks: `acceptance` at `check_time` of the s_check
    candidates (a number, or a sequence tried in order), with the equation and seed as its first
    columns and, for every check, whether it is attainable on these data:
        exact_passes    the check passes when the orthonormalised exact symmetries (`exact_basis`)
                        stand in for the judged fields
        controls_fail   it fails for the untrained field of the same seed (for the validity checks,
                        also for every control field, which the bound excludes by construction;
                        for the independence check, for V1 repeated: collapsed generators)
        decisive        both: only then does `passed` say something about learning
    `verdict(checks)` turns them into one of VERDICTS.
    """
    eq = pde_graphs.as_equation(equation)
    n = n_exact(eq) if n_span is None else n_span
    derivative = {"steps": steps, "method": method, "row_order": row_order}
    candidates = [float(s_check)] if isinstance(s_check, (int, float)) else [float(c) for c in s_check]
    s_all = sorted(set(float(v) for v in s_values) | set(candidates))
    validity = validity_table(eq, field, patches, inner, s_all, seed, **derivative)
    s_check = check_time(validity, candidates)
    at = validity[validity.s == s_check]
    referee = Referee(eq, untrained, patches, inner, seed, s_check, at[at.kind != "learned"], n, derivative)
    recovery, checks = referee.checks(field, torch.tensor(at[at.kind == "learned"].validity.to_numpy()))
    checks = referee.attainability(checks)
    warn_if_data_cannot_separate(validity, s_check)
    return recovery, validity, checks


class Referee:
    """The acceptance checks of `judge` at one flow time, with what does not depend on the learned
    field computed once: the registered fields' validity rows `registered` at `s_check` (columns as
    `validity_table`), the untrained field's n most valid generators (`baseline`) and their angle.

    checks(field, values=None) -> (recovery, checks) of the n most valid generators of `field`
    (`values`: their validity at s_check when already known); attainability(checks) adds
    exact_passes, controls_fail and decisive (see `judge`) and the equation and seed columns.
    """

    def __init__(self, eq, untrained, patches, inner, seed, s_check, registered, n, derivative):
        self.eq, self.patches, self.inner, self.seed = eq, patches, inner, seed
        self.s_check, self.registered, self.n, self.derivative = float(s_check), registered, n, derivative
        values = field_validity(untrained, eq, patches, inner, self.s_check, **derivative)
        self.baseline = select(untrained, most_valid(values, n))
        self.untrained_angle = principal_angle(eq, self.baseline, inner, n)
        self.chosen = None

    def validity(self, candidate: Field, values=None) -> pd.DataFrame:
        """The validity rows of `candidate`'s first n generators at s_check, then the registered ones."""
        if values is None:
            values = field_validity(candidate, self.eq, self.patches, self.inner, self.s_check, **self.derivative)
        mine = pd.DataFrame(
            {
                "equation": self.eq.name,
                "seed": self.seed,
                "field": _labels(candidate, self.n),
                "kind": "learned",
                "s": self.s_check,
            }
        ).assign(validity=[float(v) for v in values[: self.n]])
        return pd.concat([mine, self.registered], ignore_index=True)

    def recovery(self, candidate: Field) -> pd.DataFrame:
        rec = recovery_table(self.eq, candidate, self.baseline, self.inner, self.seed, self.n)
        other = learned_in_known(self.eq, candidate, self.baseline, self.inner, self.seed, self.n)
        other = other.assign(kind="learned", is_symmetry=False)
        return pd.concat([rec, other[rec.columns]], ignore_index=True)

    def _acceptance(self, candidate: Field, recovery: pd.DataFrame, table: pd.DataFrame, angle=None):
        angle = principal_angle(self.eq, candidate, self.inner, self.n) if angle is None else angle
        return acceptance(
            recovery,
            table,
            independence(candidate, self.inner, self.n),
            s=self.s_check,
            n_learned=self.n,
            labels=_labels(candidate, self.n),
            principal=(angle, self.untrained_angle),
        )

    def checks(self, field: Field, values=None) -> tuple[pd.DataFrame, pd.DataFrame]:
        if values is None:
            values = field_validity(field, self.eq, self.patches, self.inner, self.s_check, **self.derivative)
        indices = most_valid(torch.as_tensor(values), self.n)
        self.chosen = select(field, indices)
        recovery = self.recovery(self.chosen)
        table = self.validity(self.chosen, [values[i] for i in indices])
        return recovery, self._acceptance(self.chosen, recovery, table)

    def attainability(self, checks: pd.DataFrame) -> pd.DataFrame:
        """`checks` (of the field last given to `checks`) with exact_passes, controls_fail, decisive."""
        exact = exact_basis(self.eq, self.inner)
        exact_checks = self._acceptance(exact, self.recovery(exact), self.validity(exact))
        recovery = self.recovery(self.chosen)
        as_untrained = recovery.assign(
            fraction_in_span=recovery.fraction_untrained, angle_deg=recovery.angle_untrained_deg
        )
        untrained_checks = self._acceptance(
            self.baseline, as_untrained, self.validity(self.baseline), self.untrained_angle
        )
        controls_fail = ~untrained_checks.passed.to_numpy()
        is_independence = checks.check.str.startswith("independence").to_numpy()
        is_validity = checks.check.str.startswith("validity").to_numpy()
        controls_fail[is_independence] = not (independence(_collapsed(self.chosen), self.inner, self.n) >= 0.5)
        registered = self.registered
        worst_exact = registered[registered.kind.isin(JUDGED_KINDS)].validity.max()
        best_control = registered[registered.kind == "control"].validity.min()
        controls_fail[is_validity] &= bool(best_control > min(worst_exact + 0.5, best_control - MARGIN))
        checks = checks.copy()
        checks["exact_passes"] = exact_checks.passed.to_numpy()
        checks["controls_fail"] = controls_fail
        checks["decisive"] = checks.exact_passes & checks.controls_fail
        checks.insert(0, "equation", self.eq.name)
        checks.insert(1, "seed", self.seed)
        return checks


def warn_if_data_cannot_separate(validity: pd.DataFrame, s: float = S_CHECK, margin: float = MARGIN) -> bool:
    """Warn (and return True) when the data cannot tell symmetries from non-symmetries at s: the
    exact symmetries' worst validity is not `margin` below the controls' best. Then the validity
    checks cannot pass whatever is learned (`symflow.pde.headroom` says what to change)."""
    at = validity[validity.s == s]
    exact, control = at[at.kind.isin(JUDGED_KINDS)].validity, at[at.kind == "control"].validity
    if exact.empty or control.empty or exact.max() <= control.min() - margin:
        return False
    name = at.equation.iloc[0]
    warnings.warn(
        f"{name}: the exact symmetries reach validity {exact.max():.2f} at s={s} and the controls "
        f"{control.min():.2f}, less than {margin} apart: the data cannot separate symmetries from "
        f"non-symmetries, so the validity checks cannot pass and are undecidable on these data; "
        f"notebook 01's headroom table says which data setting to change.",
        stacklevel=2,
    )
    return True


def double(field: Field) -> Field:
    """A float64 copy of a field (evaluation is done in double precision)."""
    return copy.deepcopy(field).to(torch.float64)
