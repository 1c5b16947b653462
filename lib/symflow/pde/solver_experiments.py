"""The experiments of notebook 03: does symmetry augmentation help a neural PDE solver?

    load_trajectories(equation, split, profile, x_stride)  normalised trajectories (n, nt, nx)
    check_sizes(sizes, n_available, equation)              training-set sizes the data can hold
    known_field / learned_field                            generators ready for augmentation
    learned_fields(...)                                    per training seed, notebook 02's fields
                                                           of generator seed seeds[s % len(seeds)]
    make_pools(train, fields, task, augment, scale)        one TrajectoryPool per training seed
    train_and_score(arms, task, valid, test, settings)     every (arm, seed) as one ensemble FNO,
                                                           scored per test trajectory
    compare(errors, pairs, metric)                         paired differences and ratios with
                                                           hierarchical-bootstrap intervals

An *arm* is one column of the comparison (no augmentation, known symmetries, learned
generators, possibly at one magnitude): a dict {training seed: TrajectoryPool}. Every member of
an arm with training seed s starts from the same initial weights (`fno.seeded`) as the other
arms' seed-s members, so differences between arms at one seed are paired. Errors are kept per
test trajectory, for two metrics:

    rollout     |pred - u|^2 / |u|^2 over rows 20..139, rolled out from rows 0..19 (`fno.nmse`)
    cumulative  sum over rows 40..139 of mean_x (pred - u)^2 / mean_x u^2, rolled out from rows
                20..39 (LPSDA's metric, `fno.cumulative_nmse`)
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pandas as pd
import torch

from .. import metrics
from ..generators import Field, FunctionField
from . import augmentation, fno, pdes, solvers

METRICS = ("rollout", "cumulative")


# fno.fit's progress: one line every this many validation evaluations (and one at the end)
LOG_EVERY_EVALUATIONS = 10


def load_trajectories(
    equation: str, split: str, profile: str, x_stride: int = 1, n: int | None = None, root=None
) -> tuple[torch.Tensor, int]:
    """The `split` trajectories of `equation` at `profile` in normalised units c u, every
    x_stride-th grid column: ((n, nt, nx / x_stride) float32, the data's nx).

    Raises FileNotFoundError naming the split and the command that makes it when the data file
    is missing (this step never generates data), ValueError for an unknown split or stride.
    """
    eq = pdes.get(equation)
    if split not in solvers.SPLITS:
        raise ValueError(f"split must be one of {', '.join(solvers.SPLITS)}; got {split!r}")
    if not isinstance(x_stride, int) or x_stride < 1:
        raise ValueError(f"x_stride must be a positive integer; got {x_stride!r}")
    path = solvers.data_path(eq.name, split, profile, root)
    if not path.exists():
        raise FileNotFoundError(
            f"the {split!r} split of {eq.name} is missing ({path}); make it with `make data PROFILE={profile}`"
        )
    ds = solvers.dataset(eq, split, profile, root=root)
    u = torch.tensor(ds.u.values[:n, :, ::x_stride] * eq.c, dtype=torch.float32)
    return u, int(ds.attrs["nx"])


def check_sizes(sizes, n_available: int, equation: str) -> list[int]:
    """`sizes` as a list of ints, each in 1..n_available; else a ValueError naming `sizes`."""
    sizes = list(sizes)
    bad = [s for s in sizes if not isinstance(s, int) or not 0 < s <= n_available]
    if bad:
        raise ValueError(
            f"sizes must be training-set sizes in 1..{n_available} ({equation}'s training trajectories); got {bad}"
        )
    return sizes


def _prepared(field: Field, train: torch.Tensor, augment: dict) -> Field:
    table = augment.get("table")
    return augmentation.prepare(
        field, train, augment["n_points"], tuple(table) if table else None, seed=augment["seed"]
    )


def known_field(equation: str, train: torch.Tensor, augment: dict, kinds=("exact",)) -> Field:
    """The registry's symmetries of `kinds`, orthonormalised on `train` and tabulated."""
    return _prepared(pdes.get(equation).known_fields(kinds), train, augment)


def generator_path(generators_dir, equation: str, generator_seed: int) -> Path:
    """Where notebook 02 saves the generators of (equation, seed)."""
    return Path(generators_dir) / f"{equation}_seed{generator_seed}" / "generators.pt"


def learned_field(
    equation: str, train: torch.Tensor, augment: dict, generators_dir, generator_seed: int, k: int, nx: int
) -> Field:
    """The first k generators notebook 02 learned for (equation, generator_seed), prepared as
    `known_field`. Raises FileNotFoundError (the path and the command that makes it) or the
    ValueError of `augmentation.load_learned` (another equation or grid, too few generators)."""
    path = generator_path(generators_dir, equation, generator_seed)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run notebook 02 for {equation} with seed "
            f"{generator_seed} (`make reproduce` / `make evidence`)"
        )
    return _prepared(augmentation.load_learned(path, equation, k, nx=nx), train, augment)


def learned_fields(
    equation: str, train: torch.Tensor, augment: dict, generators_dir, generator_seeds, seeds, k: int, nx: int
) -> tuple[dict[int, Field], dict[int, int]]:
    """Learned fields per training seed: seed s uses generator seed generator_seeds[s % len], among
    those whose file exists (missing ones are skipped; none found: FileNotFoundError of the first).
    Returns ({training seed: field}, {training seed: generator seed})."""
    available = [g for g in generator_seeds if generator_path(generators_dir, equation, g).exists()]
    if not available:
        learned_field(equation, train, augment, generators_dir, list(generator_seeds)[0], k, nx)
    cache, fields, used = {}, {}, {}
    for i, seed in enumerate(seeds):
        g = available[i % len(available)]
        if g not in cache:
            cache[g] = learned_field(equation, train, augment, generators_dir, g, k, nx)
        fields[seed], used[seed] = cache[g], g
    return fields, used


def copies_per_trajectory(n_train: int, augment: dict) -> int:
    """augment["n_copies"] per trajectory, fewer when n_train of them would exceed
    augment["max_copies"] (None: no limit) in all: min(n_copies, max(1, max_copies // n_train))."""
    cap = augment.get("max_copies")
    return augment["n_copies"] if cap is None else min(augment["n_copies"], max(1, cap // n_train))


def make_pools(
    train: torch.Tensor,
    fields: dict[int, Field] | None,
    task: fno.Task,
    augment: dict,
    scale=None,
    method: str = "sinc",
) -> tuple[dict, dict]:
    """Pools of one arm for the training seeds in `fields` ({seed: field}; None: no augmentation,
    which returns {None: plain pool}). `copies_per_trajectory` copies of every trajectory; seeds
    that share a field share its copies. scale: the
    coefficient scale (default augment["scale"]; a number or one per generator). Returns
    ({seed: pool}, stats: copies, rejected, seconds summed over the distinct fields)."""
    if fields is None:
        return {None: fno.TrajectoryPool.plain(train)}, {"copies": 0, "rejected": 0, "seconds": 0.0}
    scale = augment["scale"] if scale is None else scale
    n_copies = copies_per_trajectory(len(train), augment)
    built, pools, stats = {}, {}, {"copies": 0, "rejected": 0, "seconds": 0.0}
    for seed, field in fields.items():
        if id(field) not in built:
            start = time.perf_counter()
            pool, st = augmentation.augment(
                train, field, task, n_copies, scale, augment["steps"], method, seed=augment["seed"]
            )
            built[id(field)] = pool
            stats = {
                "copies": stats["copies"] + st["copies"],
                "rejected": stats["rejected"] + st["rejected"],
                "seconds": stats["seconds"] + time.perf_counter() - start,
            }
        pools[seed] = built[id(field)]
    return pools, stats


def fit_settings(settings: dict) -> fno.FitSettings:
    """FitSettings from a profile's `fit` entry (unknown keys raise TypeError naming them)."""
    return fno.FitSettings(**settings)


def train_and_score(
    arms: dict[str, dict],
    seeds,
    task: fno.Task,
    valid: torch.Tensor,
    test: torch.Tensor,
    fno_size: dict,
    fit: dict,
    device="cpu",
    log=None,
    metrics_: tuple[str, ...] = METRICS,
) -> tuple[pd.DataFrame, dict, fno.FNO1d, list]:
    """Train every (arm, training seed) as one member of a single ensemble FNO (`fno.fit`) and
    score each member on every test trajectory.

    arms: {label: {seed: pool}}; an arm with the key None (no augmentation) uses its pool for
    every seed. All pools must hold the same trajectories count. Returns (table with one row
    per member: augmentation, seed, steps_trained, best_step, best_valid, and the mean of each
    metric; errors {(label, seed, metric): (n_test,) float64}; the trained ensemble; members
    [(label, seed)] in ensemble order).
    """
    members, pools = [], []
    for label, by_seed in arms.items():
        for seed in seeds:
            pool = by_seed.get(seed, by_seed.get(None))
            if pool is None:
                raise ValueError(f"arm {label!r} has no pool for training seed {seed}")
            members.append((label, seed))
            pools.append(pool)
    model = fno.seeded([s for _, s in members], task.n_in, task.n_out, **fno_size)
    result = fno.fit(
        model,
        pools,
        task,
        valid,
        fit_settings(fit),
        seeds=[s for _, s in members],
        device=device,
        log=log,
        log_every=LOG_EVERY_EVALUATIONS,
    )
    model.cpu()
    scores = {
        "rollout": lambda: fno.nmse(model, test, task),
        "cumulative": lambda: fno.cumulative_nmse(model, test, task),
    }
    errors, rows = {}, []
    values = {m: scores[m]().reshape(len(members), -1).double() for m in metrics_}
    for e, (label, seed) in enumerate(members):
        row = {
            "augmentation": label,
            "seed": seed,
            "steps_trained": result.steps,
            "best_step": result.best_step[e],
            "best_valid": result.best_valid[e],
            "train_seconds": result.seconds / len(members),
        }
        for m in metrics_:
            errors[(label, seed, m)] = values[m][e]
            row[m] = float(values[m][e].mean())
        rows.append(row)
    return pd.DataFrame(rows), errors, model, members


def compare(errors: dict, pairs, seeds, metric: str, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Paired comparisons (treatment vs baseline) of `metric` over training seeds and test
    trajectories: one row per pair with the two means, treatment - baseline and
    treatment / baseline, each with its 95% hierarchical-bootstrap interval
    (`metrics.hierarchical_bootstrap`). Pairs whose arms are missing are left out."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    rows = []
    for baseline, treatment in pairs:
        keys = [(baseline, s, metric) for s in seeds], [(treatment, s, metric) for s in seeds]
        if not all(k in errors for k in keys[0] + keys[1]):
            continue
        b = torch.stack([errors[k] for k in keys[0]])
        t = torch.stack([errors[k] for k in keys[1]])
        out = metrics.hierarchical_bootstrap(b, t, n_boot, seed=seed)
        rows.append(
            {
                "comparison": f"{treatment} - {baseline}",
                "baseline": baseline,
                "treatment": treatment,
                "metric": metric,
                **out,
            }
        )
    return pd.DataFrame(rows)


def verdict(row) -> str:
    """'lower' / 'higher' when the interval of the difference excludes 0, else 'no difference'."""
    if row["difference_high"] < 0:
        return "lower"
    if row["difference_low"] > 0:
        return "higher"
    return "no difference"


def equivariance_field(equation: str, symmetry, train: torch.Tensor, augment: dict) -> Field:
    """One exact symmetry of `equation` as a unit-norm, tabulated 1-generator field."""
    f = pdes.get(equation).normalised_field(symmetry)
    return _prepared(FunctionField(lambda z: f(z)[..., None], 1, 3), train, augment)


def relative_change(row) -> float:
    """(treatment - baseline) / baseline in percent."""
    return 100 * row["difference"] / row["baseline"] if row["baseline"] else math.nan


# Published reference values, for display beside this compendium's numbers: cumulative NMSE of
# an FNO on KdV and KS without augmentation and with x-/t-translation plus the Galilean boost,
# read off the figures of Brandstetter, Welling & Worrall 2022 ("Lie point symmetry data
# augmentation for neural PDE solvers", ICML), as quoted in this project's issue tracker.
LPSDA_REFERENCE = pd.DataFrame(
    [
        {"equation": "KdV", "n_train": 32, "augmentation": "none", "cumulative": 0.49},
        {"equation": "KdV", "n_train": 128, "augmentation": "none", "cumulative": 0.23},
        {"equation": "KdV", "n_train": 512, "augmentation": "none", "cumulative": 0.11},
        {"equation": "KdV", "n_train": 32, "augmentation": "known", "cumulative": 0.18},
        {"equation": "KdV", "n_train": 128, "augmentation": "known", "cumulative": 0.087},
        {"equation": "KdV", "n_train": 512, "augmentation": "known", "cumulative": 0.028},
        {"equation": "KS", "n_train": 32, "augmentation": "none", "cumulative": 0.85},
        {"equation": "KS", "n_train": 32, "augmentation": "known", "cumulative": 0.53},
    ]
)


def scale_label(scale) -> str:
    """A coefficient scale as it appears in tables and arm labels: one number ("0.1"), or one
    number per generator in the field's order joined by "/" ("0.5/0.1/0.1")."""
    if isinstance(scale, (list, tuple)):
        return "/".join(f"{float(v):g}" for v in scale)
    return f"{float(scale):g}"


def choose_scales(sweep: pd.DataFrame) -> dict:
    """Per augmentation, the sweep's scale (the value of its `scale` column) with the lowest mean
    best-validation NMSE over seeds (model selection on the validation split, never on test).
    sweep: rows of `train_and_score` with a `scale` column."""
    means = sweep.dropna(subset=["scale"]).groupby(["augmentation", "scale"]).best_valid.mean()
    return {aug: part.idxmin()[1] for aug, part in means.groupby(level=0)}


def errors_dataset(errors: dict, runs: pd.DataFrame):
    """Per-trajectory errors as an xarray Dataset: variable `nmse` (run, trajectory), with the
    run's equation, n_train, augmentation, seed and metric as coordinates along `run`.
    errors: {(equation, n_train, augmentation, seed, metric): (n_test,)}."""
    import numpy as np
    import xarray as xr

    keys = sorted(errors, key=str)
    values = np.stack([errors[k].numpy() for k in keys])
    coords = {
        name: ("run", [k[i] for k in keys])
        for i, name in enumerate(("equation", "n_train", "augmentation", "seed", "metric"))
    }
    return xr.Dataset(
        {
            "nmse": (
                ("run", "trajectory"),
                values,
                {"long_name": "normalised MSE of the rolled-out test trajectory", "units": "1"},
            )
        },
        coords=coords,
        attrs={"runs": len(runs)},
    )
