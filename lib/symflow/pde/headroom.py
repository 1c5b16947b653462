"""Validity headroom of PDE data: can the learner's score tell symmetries from non-symmetries on them?

Notebook 02 accepts a learned generator only if its validity at the check's flow time s (the first
of `S_CHECKS` at which the data separate the symmetries from the controls) lies `MARGIN` = 2 below
that of the best (lowest-scoring) control field (`pde_learning.acceptance`). No moved data score
below the unmoved data, so the data set decides whether that can happen at all:

    floor     S_0 = mean log max(|c residual|, 1e-4) over the unmoved test patches: the residual
              validity as the learner scores it (`pde_graphs.graph_residual`, `losses.residual_validity`)
    control   S_c = validity of each control field of the equation (kind "control" in `symflow.pde.pdes`),
              scaled to unit norm under the evaluation inner product and moved by s
              (`pde_graphs.validity`), as notebook 02's judge scores it
    gap       min_c S_c - S_0

The patches, inner product, RK4 steps and derivative method are notebook 02's
(`pde_learning.evaluation_set`, profile setting "pde_symmetries"). A gap below MARGIN makes the
validity checks unpassable whatever is learned: `headroom` then warns, saying what to change in
the data (`advice`).

    headroom(equation, ds, profile)            one row: floor, worst symmetry, best control, gap, advice
    headroom_table(profile, equations)         the rows of every registered equation's test data
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import pandas as pd
import torch

from .. import losses, profiles
from ..generators import normalise
from . import pde_graphs, pde_learning, pdes, solvers

CLAMP = 1e-4  # the validity's floor on |residual| (pde_graphs.validity's default)
MARGIN = pde_learning.MARGIN  # a learned field must score 2 below the best control
S_CHECKS = pde_learning.S_CHECKS  # the flow times notebook 02's validity checks may judge at, in order
ACCURATE = 1e-5  # relative deviation from an independent re-solve that counts as accurate data


def settings(profile: str) -> dict:
    """What notebook 02 judges on at `profile`: its "pde_symmetries" `evaluate` entries (n_patches,
    rows, first_row, n_points, steps) and the derivative `method` and `row_order` of its learner."""
    p = profiles.get(profile, "pde_symmetries")
    return {**p["evaluate"], "method": p["learn"]["method"], "row_order": p["learn"]["row_order"]}


def headroom(
    equation,
    ds,
    profile: str = "quick",
    evaluate: dict | None = None,
    s=S_CHECKS,
    margin: float = MARGIN,
    warn: bool = True,
    advise: bool = True,
) -> pd.DataFrame:
    """The validity headroom of the data set `ds` (unmoved test data of `equation`, name or Equation).

    Patches: rows first_row .. first_row + rows - 1 of the first n_patches trajectories of ds;
    inner product: n_points graph points of all of ds (seed 0); both as `pde_learning.evaluation_set`
    takes them. `evaluate` (keys n_patches, rows, first_row, n_points, steps, method, row_order)
    defaults to `settings(profile)`. Returns one row with columns
        equation, patches, rows ("first-last"), s (the first of the flow times `s`, a number or a
        sequence, at which the data separate, else the last), floor (S_0), worst_patch_floor (the
        highest patch's S_0), worst_symmetry (highest validity at s of the registered symmetries of
        `pde_learning.JUDGED_KINDS`),
        best_control, best_control_validity (min_c S_c at s), gap (min_c S_c - S_0), margin,
        passes (gap >= margin and worst_symmetry <= best_control_validity - margin: the checks
        are attainable), re_solve_error, advice.
    When the gap is below `margin` (and `advise`), `advice` says what to change in the data, with
    the gap measured after that change; with `warn` it also warns. re_solve_error is NaN unless
    the advice needed it (`solvers.reference_error` of the worst patch's trajectory, over 5 saved
    steps from its first row).
    Raises ValueError when the equation has no control field or the rows do not fit the data.
    """
    eq = pde_graphs.as_equation(equation)
    ev = settings(profile) if evaluate is None else evaluate
    controls = eq.symmetries_of(("control",))
    if not controls:
        raise ValueError(f"{eq.name} has no control field (a symmetry of kind 'control'): nothing to compare with")
    graphs = pde_learning.graphs_of(eq, ds, torch.float64)
    n, nt = graphs.shape[:2]
    r0, nr = ev["first_row"], ev["rows"]
    if r0 < 0 or nr < 7 or r0 + nr > nt:
        raise ValueError(
            f"evaluate's first_row and rows must select at least 7 of the data's {nt} time rows; "
            f"got rows {r0}..{r0 + nr - 1}"
        )
    patches = graphs[: ev["n_patches"], r0 : r0 + nr]
    inner = pde_learning.evaluation_inner(graphs, ev["n_points"], seed=0)
    derivative = {"method": ev["method"], "row_order": ev["row_order"]}
    with torch.no_grad():
        residual = pde_graphs.graph_residual(eq, patches, **derivative)
        per_patch = losses.residual_validity(residual, CLAMP, dims=(-2, -1))
        floor = float(losses.residual_validity(residual, CLAMP))
        times = [float(s)] if isinstance(s, (int, float)) else [float(c) for c in s]
        for s in times:  # the first flow time at which the data separate (pde_learning.check_time)
            scores = {}
            for key, kind in (("symmetry", pde_learning.JUDGED_KINDS), ("control", ("control",))):
                if eq.symmetries_of(kind):
                    field = normalise(eq.known_fields(kinds=kind), inner)
                    scores[key] = pde_graphs.validity(field, eq, patches, s, ev["steps"], floor=CLAMP, **derivative)
            best = int(torch.argmin(scores["control"]))
            best_value = float(scores["control"][best])
            gap = best_value - floor
            worst_symmetry = float(scores["symmetry"].max()) if "symmetry" in scores else math.nan
            if gap >= margin and not worst_symmetry > best_value - margin:
                break
    row = {
        "equation": eq.name,
        "patches": int(patches.shape[0]),
        "rows": f"{r0}-{r0 + nr - 1}",
        "s": s,
        "floor": floor,
        "worst_patch_floor": float(per_patch.max()),
        "worst_symmetry": worst_symmetry,
        "best_control": controls[best].name,
        "best_control_validity": best_value,
        "gap": gap,
        "margin": margin,
        "passes": bool(gap >= margin and not worst_symmetry > best_value - margin),
        "re_solve_error": math.nan,
        "advice": "",
    }
    if not row["passes"] and advise:
        worst = int(torch.argmax(per_patch))
        row["advice"], row["re_solve_error"] = advice(eq, ds, worst, r0, floor, best_value, s, ev)
    if not row["passes"]:
        if warn:
            warnings.warn(
                f"{eq.name}: the data leave a validity gap of {gap:.2f} between the unmoved test data "
                f"({floor:.2f}) and the best control field ({controls[best].name}, {best_value:.2f} at s={s}), "
                f"less than {margin}: notebook 02's validity checks cannot pass on these data. {row['advice']}",
                stacklevel=2,
            )
    return pd.DataFrame([row])


REMEDY_TRAJECTORIES = 4  # trajectories solved to measure the gap that a suggested change gives


def advice(
    eq: pdes.Equation,
    ds,
    trajectory: int,
    first_row: int,
    floor: float,
    control: float,
    s: float,
    evaluate: dict | None = None,
):
    """What to change when the gap is too small, with the gap measured after the change: (text, re_solve_error).

    Unmoved data at the clamp (floor within 0.25 of log 1e-4): the data are as accurate as the
    score can tell, and the controls barely break the equation on them: raise the amplitude
    (measured: twice the amplitude). Otherwise the data's own residual is the problem: the
    `trajectory` is re-solved over 5 saved steps from `first_row` (`solvers.reference_error`); a
    deviation above ACCURATE points at the solver (step, grid), agreement at the saved frames
    (the time derivative between them; measured: twice the frames over the same window, with the
    judged rows moved to the same times). A measurement solves REMEDY_TRAJECTORIES new
    trajectories of the changed equation on ds's grid and scores them like ds (`remedy_gap`).
    """
    clamp = math.log(CLAMP)
    evaluate = settings("quick") if evaluate is None else evaluate
    if floor <= clamp + 0.25:
        changed = dataclasses.replace(eq, amplitude=2 * eq.amplitude)
        gap = remedy_gap(changed, ds, evaluate, s)
        return (
            f"The unmoved data score {floor:.2f}, at the clamp log(1e-4) = {clamp:.2f}: they are accurate, "
            f"but the controls change the residual little on them (best {control:.2f}). Raise the initial "
            f"amplitude (`Equation.amplitude`): at twice it ({changed.amplitude:g}) the gap measured on "
            f"{REMEDY_TRAJECTORIES} new trajectories is {gap:.2f} (needed: {MARGIN:g}).",
            math.nan,
        )
    u = ds["u"].values[trajectory : trajectory + 1]
    start = min(first_row, u.shape[1] - 6)
    error = float(solvers.reference_error(eq, u, ds["t"].values, start=start, intervals=5)[0])
    if error > ACCURATE:
        return (
            f"The unmoved data score {floor:.2f} (clamp {clamp:.2f}) and trajectory {trajectory} deviates "
            f"by {error:.1e} (relative) from an independent re-solve over 5 saved steps: the data are "
            f"not accurate solutions (or were perturbed after solving). Solve with a smaller step (the "
            f"profile's pde_data `step`) or on a finer grid (`Equation.oversample`, or pde_data `nx`).",
            error,
        )
    changed = dataclasses.replace(eq, n_saved=2 * (eq.n_saved - 1) + 1, n_kept=2 * (eq.n_kept - 1) + 1)
    gap = remedy_gap(changed, ds, {**evaluate, "first_row": 2 * evaluate["first_row"]}, s)
    return (
        f"The unmoved data score {floor:.2f} (clamp {clamp:.2f}) although trajectory {trajectory} agrees "
        f"with an independent re-solve to {error:.1e}: the time derivative between saved frames is "
        f"what fails. Save more frames over the same window (`Equation.n_saved` and `n_kept`): with "
        f"twice the frames ({changed.n_saved} saved, {changed.n_kept} kept) the gap measured on "
        f"{REMEDY_TRAJECTORIES} new trajectories is {gap:.2f} (needed: {MARGIN:g}); or use a finer grid "
        f"(pde_data `nx`).",
        error,
    )


def remedy_gap(changed: pdes.Equation, ds, evaluate: dict, s: float) -> float:
    """The gap of REMEDY_TRAJECTORIES trajectories of the `changed` equation, solved on ds's grid
    (its nx; the step and seed of ds's attributes when present) and scored with `evaluate` (at
    most as many patches as trajectories, the inner product on their points)."""
    n = REMEDY_TRAJECTORIES
    step = ds.attrs.get("step")
    step = None if step is None or (isinstance(step, float) and math.isnan(step)) else float(step)
    new = solvers.generate(changed, "test", n, int(ds.sizes["x"]), int(ds.attrs.get("seed", 0)), step)
    ev = {**evaluate, "n_patches": min(n, evaluate["n_patches"]), "n_points": min(evaluate["n_points"], 2048)}
    return float(headroom(changed, new, evaluate=ev, s=s, warn=False, advise=False)["gap"].iloc[0])


def headroom_table(
    profile: str,
    equations=None,
    datasets: dict | None = None,
    device="cpu",
    root=None,
    warn: bool = True,
) -> pd.DataFrame:
    """`headroom` of every equation in `equations` (names; default: every registered one, the extra
    modules' included) on its test data at `profile`: `datasets[name]` when given, else
    `solvers.dataset(name, "test", profile, device, root)`. One row per equation."""
    names = list(pdes.names() if equations is None else equations)
    rows = []
    for name in names:
        ds = (datasets or {}).get(name)
        if ds is None:
            ds = solvers.dataset(name, "test", profile, device=device, root=root)
        rows.append(headroom(name, ds, profile=profile, warn=warn))
    return pd.concat(rows, ignore_index=True)
