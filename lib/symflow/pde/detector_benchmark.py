"""Notebook 07: symmetry detectors side by side on the same PDE data.

The detectors (`DETECTORS`), each judged against the same registered fields under the same inner
product (notebook 02's evaluation inner product: `evaluate["n_points"]` test graph points, seed 0):

    learned          this paper's method: notebook 02's generators of every seed present
                     (results/02_pde_symmetries/<profile>/<Eq>_seed<k>/generators.pt), loaded and
                     not retrained. Its count is the number of its fields judged
                     valid by notebook 02's validity table at flow time s (`valid_fields` with the
                     rule `count_rule`: "midpoint", closer to the exact symmetries' validity than
                     to the controls', or "bound", notebook 02's acceptance bound), wherever they
                     stand among V1..VN; its span is theirs. Seconds: the training loop's (sum of the history's
                     per-iteration seconds). It is trained once, on notebook 02's noise-free training
                     split, so it has one row per seed, at noise 0 and n_train = that split's size.
    untrained        the negative control: the same network at the same seed before training, its
                     count by the same rule from its own validity on the same test patches.
    lienlsd-fitted   the LieNLSD-style detector (`detectors.detect`) with F fitted from the data;
    lienlsd-known    the same with the equation's own right-hand side. One row per (noise, n_train,
                     seed): the first n_train training trajectories, noise of `noise` times the data's
                     standard deviation, detection seed `seed` (rows drawn and noise). Seconds: its
                     own wall time.

Angles. For a span V (the detector's fields) and the reference span K, the largest angle between
a unit field of V and the span K is the largest principal angle when dim V <= dim K and 90 degrees
when dim V > dim K (some field of V is then orthogonal to K); likewise from K to V. `angle_deg` is
the larger of the two directions, against the data set's symmetries (`DATA_KINDS`: the registered
exact and approximate fields). The LieNLSD criterion is local: it also finds the symmetries of the
equation that the periodic domain breaks (registered as `broken_by_domain`: KdV's and cKdV's scaling,
Burgers' scaling and projective field), so its count can exceed the data set's (KdV 4, Burgers 5
against 3), and then `angle_deg` is 90 by the rule above. `angle_equation_deg` measures against the
equation's local symmetries (`EQUATION_KINDS`, the broken ones included), and `count_periodic` is
the dimension of the part of the detected span that is a field on the periodic domain
(`periodic_part`: no explicit x), which is what the data set can have.

The table (`table`): COLUMNS (equation, detector, noise, n_train, seed, angle_deg, count, seconds),
then angle_span_to_known_deg and angle_known_to_span_deg (the two directions of angle_deg),
angle_equation_deg and angle_span_to_equation_deg (the same against EQUATION_KINDS), count_periodic,
note (what a row is, and why a column is empty), and per detector: learned and untrained
count_bound, count_midpoint (both rules), angle_first_k_deg (V1..Vk, k the data set's count,
whatever the count) and validity (V1..VN at s); LieNLSD gap_decades and fields (the detected
fields in physical coordinates, 3 digits).

    learned_runs(pde_dir, equations)         {equation: seeds with a generators.pt}
    span_angles(V, K, inner)                 both directed angles and their maximum, degrees
    learned_rows(...), detector_rows(...)    the table's rows
    periodic_part(detection, points)         the detected fields without explicit x
    statements(table)                        per equation, who wins on angle, count and time
    augmentation_study(...)                  optional: notebook 03's FNO with each detector's fields
    same_arm(fields, earlier, points)        whether an augmentation arm's prepared fields are an
                                             earlier arm's (then its runs are reused, not refitted)
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import pandas as pd
import sympy
import torch

from .. import algebra, generators, metrics
from ..generators import FunctionField, InnerProduct
from . import augmentation, detectors, fno, pde_graphs, pde_learning, pdes, solvers
from . import solver_experiments as sx

DETECTORS = ("learned", "untrained", "lienlsd-fitted", "lienlsd-known")
COLUMNS = ["equation", "detector", "noise", "n_train", "seed", "angle_deg", "count", "seconds"]
DATA_KINDS = ("exact", "approximate")
EQUATION_KINDS = ("exact", "approximate", "broken_by_domain")
RIGHT = 90.0


# ---- spans and angles ---------------------------------------------------------------------------------
def span_angles(V: torch.Tensor, K: torch.Tensor, inner: InnerProduct) -> dict:
    """Angles in degrees between span V (n, d, a) and span K (n, d, b), the columns independent.

    Returns {"span_to_known": the largest angle of a unit field of span V to span K,
    "known_to_span": the same from K to V, "angle": the larger}: the largest principal angle in a
    direction whose source has no more dimensions than its target, 90 in the other (an empty V: 0
    and 90)."""
    a, b = V.shape[-1], K.shape[-1]
    if a == 0 or b == 0:
        out = {"span_to_known": 0.0 if a == 0 else RIGHT, "known_to_span": 0.0 if b == 0 else RIGHT}
    else:
        largest = float(metrics.principal_angles(V, K, inner).max()) * 180 / math.pi
        out = {"span_to_known": largest if a <= b else RIGHT, "known_to_span": largest if b <= a else RIGHT}
    return {**out, "angle": max(out.values())}


def reference(equation, inner: InnerProduct, kinds=DATA_KINDS) -> torch.Tensor:
    """The registered fields of `kinds` at the inner product's points, (n, 3, K) float64."""
    eq = pdes.get(equation) if isinstance(equation, str) else equation
    return eq.known_fields(kinds)(inner.points.to(torch.float64))


def _angle_columns(values: torch.Tensor, equation, inner: InnerProduct) -> dict:
    data = span_angles(values, reference(equation, inner, DATA_KINDS), inner)
    local = span_angles(values, reference(equation, inner, EQUATION_KINDS), inner)
    return {
        "angle_deg": data["angle"],
        "angle_span_to_known_deg": data["span_to_known"],
        "angle_known_to_span_deg": data["known_to_span"],
        "angle_equation_deg": local["angle"],
        "angle_span_to_equation_deg": local["span_to_known"],
    }


# ---- this paper's method and its untrained twin ---------------------------------------------------------
def learned_runs(pde_dir, equations) -> dict[str, list[int]]:
    """{equation: sorted seeds k with <pde_dir>/<equation>_seed<k>/generators.pt}; equations
    without any are left out."""
    runs = {}
    for name in equations:
        seeds = sorted(
            int(p.parent.name.rsplit("seed", 1)[1]) for p in Path(pde_dir).glob(f"{name}_seed*/generators.pt")
        )
        if seeds:
            runs[name] = seeds
    return runs


def untrained_twin(field: generators.GeneratorField, seed: int) -> generators.GeneratorField:
    """The same network at the same seed before training (`pde_learning.new_field`'s initialisation)."""
    torch.manual_seed(seed)
    return generators.GeneratorField(**field.config)


def count_valid(learned: list[float], validity: pd.DataFrame, rule: str = "midpoint") -> int:
    """How many fields of `learned` (validities) are judged valid: `len(valid_fields(...))`."""
    return len(valid_fields(learned, validity, rule))


def valid_fields(learned: list[float], validity: pd.DataFrame, rule: str = "midpoint") -> list[int]:
    """The indices of the fields of `learned` (validities, in order) at or below the rule's threshold
    (`algebra.validity_threshold` of the exact symmetries and controls of `validity`, notebook 02's
    table at one s), wherever they stand: the learner orders its fields by validity only roughly,
    and notebook 02 judges its most valid fields, not its leading ones."""
    exact = validity[validity.kind == "exact"].validity.tolist()
    controls = validity[validity.kind == "control"].validity.tolist()
    threshold = algebra.validity_threshold(exact, controls, rule)
    return [a for a, v in enumerate(learned) if v <= threshold]


def run_check_time(run_dir) -> float:
    """The flow time at which notebook 02 judged the run in `run_dir` (its acceptance.csv's validity
    checks, "validity: V1 at s=0.2"; `pde_learning.check_time`). ValueError when it has none."""
    checks = pd.read_csv(Path(run_dir) / "acceptance.csv").check
    times = set(checks.str.extract(r"^validity: .* at s=([0-9.eE+-]+)$")[0].dropna().astype(float))
    if len(times) != 1:
        raise ValueError(
            f"{Path(run_dir) / 'acceptance.csv'} names {len(times)} check times ({sorted(times)}); expected one"
        )
    return times.pop()


def learned_rows(
    equation,
    run_dir,
    inner: InnerProduct,
    patches: torch.Tensor,
    s: float | None,
    evaluate: dict,
    learn: dict,
    n_train: int,
    rule: str = "midpoint",
) -> list[dict]:
    """The rows of the learned field of one notebook-02 run and of its untrained twin.

    run_dir: <results>/02_pde_symmetries/<profile>/<Eq>_seed<k> (generators.pt, validity.csv,
    history.csv); inner, patches: `pde_learning.evaluation_set`'s; s: the flow time of the count
    (it must be among the run's validity.csv s values; None: the run's own check time,
    `run_check_time`); evaluate, learn: notebook 02's settings
    (RK4 steps; the derivative method and row order of the untrained field's validity);
    n_train: the training-set size notebook 02 learned on.
    """
    eq = pdes.get(equation) if isinstance(equation, str) else equation
    run_dir = Path(run_dir)
    seed = int(run_dir.name.rsplit("seed", 1)[1])
    field = generators.load(run_dir / "generators.pt")
    s = run_check_time(run_dir) if s is None else float(s)
    table = pd.read_csv(run_dir / "validity.csv")
    at = table[(table.s - s).abs() < 1e-12]
    if at.empty:
        raise ValueError(f"{run_dir / 'validity.csv'} has no rows at s={s}; its s values: {sorted(set(table.s))}")
    history = pd.read_csv(run_dir / "history.csv")
    tic = time.perf_counter()
    twin = untrained_twin(field, seed)
    twin_seconds = time.perf_counter() - tic
    with torch.no_grad():
        twin_unit = generators.normalise(pde_learning.double(twin), inner)
        twin_validity = pde_graphs.validity(
            twin_unit,
            eq,
            patches.to(torch.float64),
            float(s),
            evaluate["steps"],
            method=learn["method"],
            row_order=learn["row_order"],
        ).tolist()
    learned_validity = at[at.kind == "learned"].validity.tolist()
    rows = []
    for name, f, validity, seconds, note in (
        (
            "learned",
            field,
            learned_validity,
            float(history["seconds"].sum()),
            f"notebook 02's generators (trained once on {n_train} noise-free trajectories, not retrained: "
            "no noise or size sweep); span: its valid fields; seconds: its training loop",
        ),
        (
            "untrained",
            twin,
            twin_validity,
            twin_seconds,
            "negative control: notebook 02's network at the same seed, untrained (sees no data; noise and "
            "n_train do not apply); seconds: its construction",
        ),
    ):
        valid = valid_fields(validity, at, rule)
        count = len(valid)
        with torch.no_grad():
            values = generators.normalise(pde_learning.double(f), inner)(inner.points.to(torch.float64))
        ordered = min(len(eq.symmetries_of(DATA_KINDS)), values.shape[-1])
        rows.append(
            {
                "equation": eq.name,
                "detector": name,
                "noise": 0.0,
                "n_train": n_train if name == "learned" else 0,
                "seed": seed,
                **_angle_columns(values[..., valid], eq, inner),
                "count": count,
                "seconds": seconds,
                "count_periodic": count,
                **{f"count_{r}": count_valid(validity, at, r) for r in algebra.RULES},
                "angle_first_k_deg": span_angles(values[..., :ordered], reference(eq, inner), inner)["angle"],
                "validity": " ".join(f"{v:.2f}" for v in validity),
                "note": note
                + f"; count by the {rule} rule at s={s:g}"
                + ("; count 0: empty span, 90 degrees" if count == 0 else ""),
            }
        )
    return rows


# ---- the LieNLSD-style detector -------------------------------------------------------------------------
def periodic_part(detection: detectors.Detection, points: torch.Tensor, tol: float = 1e-3) -> detectors.Detection:
    """The part of the detected span that is a field on the periodic domain: the combinations of
    the detected fields with no explicit x (their coefficients on library functions holding x
    vanish), as a Detection of those fields (count, fields, coefficients replaced).

    points (n, 3): physical (x, t, u) at which each library function's RMS sets its coefficient's
    scale; a combination counts when its x-dependent part is below `tol` of the whole (relative,
    in those scales), and its x-dependent coefficients are then set to zero.
    """
    W = detection.coefficients.to(torch.float64)  # (c, 3, m)
    c, _, m = W.shape
    library = detection.library
    has_x = torch.tensor([pdes.x in sympy.sympify(f).free_symbols for f in library])
    if c == 0 or not has_x.any():
        return detection
    values = detectors._evaluate(
        library, {pdes.x: points[:, 0], pdes.t: points[:, 1], pdes.u: points[:, 2]}, len(points)
    )
    scale = values.square().mean(1).sqrt().clamp_min(1e-300)  # (m,)
    F = (W * scale).reshape(c, -1)  # whole fields, scaled coefficients
    M = (W * scale)[:, :, has_x].reshape(c, -1)  # their x-dependent parts
    Q, R = torch.linalg.qr(F.T)  # F = R^T Q^T: |a F| = |a R^T|
    G = torch.linalg.solve_triangular(R.T, M, upper=False)  # b G = a M for b = a R^T
    U, S, _ = torch.linalg.svd(G, full_matrices=True)
    small = torch.cat([S, S.new_zeros(c - S.numel())]) if S.numel() < c else S
    b = U[:, small < tol].T  # (k, c), each |b| = 1
    a = torch.linalg.solve_triangular(R, b.T, upper=True).T  # a R^T = b
    combined = torch.einsum("kc,cdm->kdm", a, W)
    combined[:, :, has_x] = 0.0
    if combined.shape[0]:
        reduced, pivots = detectors._rref(combined.reshape(combined.shape[0], -1))
        combined = torch.stack([row / row[p] for row, p in zip(reduced, pivots)]).reshape(-1, 3, m)
    fields = [tuple(detectors._combination(row, library) for row in Wa) for Wa in combined]
    return dataclasses.replace(detection, fields=fields, coefficients=combined, count=len(fields))


def detected_values(detection: detectors.Detection, equation, inner: InnerProduct) -> torch.Tensor:
    """The detected fields at the inner product's points, (n, 3, count) float64 (count 0: empty)."""
    points = inner.points.to(torch.float64)
    if not detection.fields:
        return points.new_zeros(points.shape[0], 3, 0)
    return detectors.function_field(detection, equation)(points)


def physical_points(equation, inner: InnerProduct) -> torch.Tensor:
    """The inner product's points in physical (x, t, u), (n, 3) float64."""
    eq = pdes.get(equation) if isinstance(equation, str) else equation
    z = inner.points.to(torch.float64)
    return torch.stack(eq.denormalise(z[:, 0], z[:, 1], z[:, 2]), dim=-1)


def _format(fields, digits: int = 3) -> str:
    def part(e):
        e = sympy.sympify(e)
        return str(e.xreplace({n: sympy.Float(n, digits) for n in e.atoms(sympy.Float)}))

    return " ; ".join(f"({part(xi)}, {part(tau)}, {part(phi)})" for xi, tau, phi in fields)


def detector_rows(
    equation,
    u: torch.Tensor,
    times: torch.Tensor,
    inner: InnerProduct,
    variants=("fitted", "known"),
    noises=(0.0,),
    sizes=(2,),
    seeds=(0,),
    detect: dict | None = None,
    log=None,
) -> list[dict]:
    """One row per (variant, noise, n_train, seed) of `detectors.detect` on the first n_train
    trajectories of u (B, T, nx) at `times`, with the keyword arguments `detect` (e.g. n_rows)."""
    eq = pdes.get(equation) if isinstance(equation, str) else equation
    physical = physical_points(eq, inner)
    rows = []
    for variant in variants:
        for noise in noises:
            for n in sizes:
                for seed in seeds:
                    det = detectors.detect(
                        eq,
                        u,
                        times,
                        variant=variant,
                        trajectories=int(n),
                        noise=float(noise),
                        seed=int(seed),
                        **(detect or {}),
                    )
                    periodic = periodic_part(det, physical)
                    row = {
                        "equation": eq.name,
                        "detector": f"lienlsd-{variant}",
                        "noise": float(noise),
                        "n_train": int(n),
                        "seed": int(seed),
                        **_angle_columns(detected_values(det, eq, inner), eq, inner),
                        "count": det.count,
                        "seconds": det.seconds["total"],
                        "count_periodic": periodic.count,
                        "gap_decades": det.gap_decades,
                        "fields": _format(det.fields),
                        "note": (
                            f"LieNLSD-style, F {'fitted from the data' if variant == 'fitted' else 'the equation rhs'}"
                            + ("; count 0: empty span, 90 degrees" if det.count == 0 else "")
                            + "; validity, count_bound/midpoint and angle_first_k_deg: learned and untrained only"
                        ),
                    }
                    rows.append(row)
                    if log:
                        log(
                            f"{eq.name} lienlsd-{variant} noise {noise:g} n_train {n} seed {seed}: count {det.count} "
                            f"(periodic {periodic.count}), angle {row['angle_deg']:.3g} deg "
                            f"(equation {row['angle_equation_deg']:.3g}), {row['seconds']:.2f} s"
                        )
    return rows


def table(rows: list[dict]) -> pd.DataFrame:
    """The rows as the benchmark table: COLUMNS first, then the extra columns; sorted by equation (in
    the order they first appear), detector (DETECTORS' order), noise, n_train and seed."""
    df = pd.DataFrame(rows)
    order = {d: i for i, d in enumerate(DETECTORS)}
    extra = [c for c in df.columns if c not in COLUMNS]
    df = df[COLUMNS + extra]
    equations = {e: i for i, e in enumerate(dict.fromkeys(df.equation))}
    df = df.assign(_e=df.equation.map(equations), _k=df.detector.map(lambda d: order.get(d, len(order))))
    df = df.sort_values(["_e", "_k", "noise", "n_train", "seed"], kind="stable")
    return df.drop(columns=["_e", "_k"]).reset_index(drop=True)


# ---- who wins on what -----------------------------------------------------------------------------------
def in_library(symmetry: pdes.Symmetry, degree: int = 2) -> bool:
    """Whether the field's components are polynomials in (x, t, u) of degree <= `degree` (the span
    of `detectors.monomials(degree)`, LieNLSD's default library)."""
    variables = (pdes.x, pdes.t, pdes.u)
    for e in (symmetry.xi, symmetry.tau, symmetry.phi):
        e = sympy.expand(e)
        if not e.is_polynomial(*variables) or (e != 0 and sympy.Poly(e, *variables).total_degree() > degree):
            return False
    return True


def _fmt_angle(a: float) -> str:
    return f"{a:.2g} deg" if a < 0.01 else f"{a:.2f} deg" if a < 10 else f"{a:.0f} deg"


def _fmt_seconds(s: float) -> str:
    return f"{s:.2f} s" if s < 10 else f"{s:.0f} s"


def _summary(g: pd.DataFrame) -> pd.DataFrame:
    """Per detector: mean angles, the counts seen ("3" or "2/3"), median seconds, seeds."""

    def counts(c):
        return "/".join(str(int(v)) for v in sorted(set(c)))

    return g.groupby("detector", sort=False).agg(
        angle=("angle_deg", "mean"),
        found=("angle_known_to_span_deg", "mean"),
        equation_angle=("angle_equation_deg", "mean"),
        inside_equation=("angle_span_to_equation_deg", "mean"),
        first_k=("angle_first_k_deg", "mean"),
        count=("count", counts),
        periodic=("count_periodic", counts),
        seconds=("seconds", "median"),
        seeds=("seed", "nunique"),
    )


def _describe(d: str, r, n_data: int, n_equation: int, broken: bool) -> str:
    """One detector's angle and count at noise 0, for `statements`."""
    extra = [f"count {r['count']}"]
    if d.startswith("lienlsd"):
        if r["count"] != r.periodic:
            extra.append(f"{r.periodic} of them on the periodic domain")
        if broken:
            extra.append(f"{_fmt_angle(r.equation_angle)} to the equation's {n_equation}")
    elif r["count"] != str(n_data) and not math.isnan(r.first_k):
        extra.append(f"its V1..V{n_data}: {_fmt_angle(r.first_k)}")
    if r.seeds > 1:
        extra.append(f"mean of {r.seeds} seeds")
    return f"{d} {_fmt_angle(r.angle)} ({', '.join(extra)})"


def statements(df: pd.DataFrame, tie_deg: float = 0.05) -> dict[str, str]:
    """Per equation, generated from the table: the data set's and the equation's counts; at noise 0
    and the largest n_train (the learned and untrained fields at their own rows, means over seeds)
    each detector's angle and count and the winner on angle (ties within `tie_deg`); who reports the
    data set's count, and what a LieNLSD count above it consists of; the fastest (the untrained
    control left out); the best at the largest noise; from how many trajectories each LieNLSD
    variant finds every data-set symmetry within 1 degree at noise 0; and where the learned method
    loses and wins (against the detectors; the control only as a win)."""
    out = {}
    for name, g in df.groupby("equation", sort=False):
        eq = pdes.get(name)
        n_data = len(eq.symmetries_of(DATA_KINDS))
        n_equation = len(eq.symmetries_of(EQUATION_KINDS))
        broken = [s.name for s in eq.symmetries_of(("broken_by_domain",))]
        lines = [
            f"{name}: the data set has {n_data} registered symmetries (exact"
            + (" + approximate" if eq.symmetries_of(("approximate",)) else "")
            + f"), the equation {n_equation} local ones"
            + (f" (broken_by_domain: {'; '.join(broken)})" if broken else "")
            + "."
        ]
        outside = [s.name for s in eq.symmetries_of(EQUATION_KINDS) if not in_library(s)]
        if outside:
            lines.append(f"Outside LieNLSD's library (monomials of degree <= 2): {'; '.join(outside)}.")
        sized = g[g.detector.str.startswith("lienlsd")]
        fixed = g[~g.detector.str.startswith("lienlsd")]
        n_max = int(sized.n_train.max()) if len(sized) else None
        clean = _summary(pd.concat([fixed, sized[(sized.noise == 0) & (sized.n_train == n_max)]]))
        if clean.empty:
            out[name] = lines[0]
            continue

        best = clean.angle.min()
        lines.append(
            f"Angle to the data set's symmetries at noise 0 (LieNLSD on {n_max} trajectories, the learned fields "
            "on notebook 02's training set): "
            + "; ".join(_describe(d, r, n_data, n_equation, bool(broken)) for d, r in clean.iterrows())
            + f". Best: {' = '.join(d for d, r in clean.iterrows() if r.angle <= best + tie_deg)}."
        )
        right = [d for d, r in clean.iterrows() if str(n_data) in r["count"].split("/")]
        over = [
            f"{d} {r['count']} = {r.periodic} on the periodic domain"
            + f" + {int(r['count']) - int(r.periodic)} with explicit x"
            + (
                f", fields of the equation's broken_by_domain symmetries (every detected field within "
                f"{_fmt_angle(r.inside_equation)} of the equation's {n_equation})"
                if r.inside_equation <= 1
                else f" (a detected field {_fmt_angle(r.inside_equation)} from the equation's {n_equation})"
            )
            for d, r in clean.iterrows()
            if d.startswith("lienlsd") and r["count"] != r.periodic and "/" not in r["count"] + r.periodic
        ]
        under = [
            d
            for d, r in clean.iterrows()
            if d.startswith("lienlsd") and broken and r["count"] == r.periodic and r.equation_angle > 1
        ]
        lines.append(
            f"Count {n_data} (the data set's): {', '.join(right) if right else 'no detector'}"
            + (f"; {'; '.join(over)}" if over else "")
            + (f"; {', '.join(under)}: the broken_by_domain field(s) not found on these data" if under else "")
            + "."
        )
        timed = clean.drop(index="untrained", errors="ignore")
        lines.append(
            "Time: "
            + ", ".join(f"{d} {_fmt_seconds(r.seconds)}" for d, r in timed.iterrows())
            + f"; fastest {timed.seconds.idxmin()}."
        )
        noise_max = float(sized.noise.max()) if len(sized) else 0.0
        if noise_max > 0:
            noisy = _summary(sized[(sized.noise == noise_max) & (sized.n_train == n_max)])
            b = noisy.angle.min()
            lines.append(
                f"At noise {noise_max:g} ({n_max} trajectories): "
                + ", ".join(f"{d} {_fmt_angle(r.angle)} (count {r['count']})" for d, r in noisy.iterrows())
                + f"; best {' = '.join(d for d, r in noisy.iterrows() if r.angle <= b + tie_deg)}"
                + " (the learned method is not retrained under noise)."
            )
        reach = []
        for d, sub in sized[sized.noise == 0].groupby("detector", sort=False):
            found = sub.groupby("n_train").angle_known_to_span_deg.mean()
            found = found[found <= 1.0]
            reach.append(f"{d} from {int(found.index.min())}" if len(found) else f"{d} at no size")
        if reach:
            lines.append(
                "Every data-set symmetry within 1 deg of the detected span at noise 0, by training trajectories: "
                + ", ".join(reach)
                + "."
            )
        if "learned" in clean.index:
            mine = clean.loc["learned"]
            rivals = clean.drop(index=["learned", "untrained"], errors="ignore")
            loses = [
                f"{d} on angle ({_fmt_angle(r.angle)} vs {_fmt_angle(mine.angle)})"
                for d, r in rivals.iterrows()
                if r.angle < mine.angle - tie_deg
            ] + [
                f"{d} on time ({_fmt_seconds(r.seconds)} vs {_fmt_seconds(mine.seconds)})"
                for d, r in rivals.iterrows()
                if r.seconds < mine.seconds
            ]
            wins = [
                f"{d} on angle ({_fmt_angle(mine.angle)} vs {_fmt_angle(r.angle)})"
                for d, r in clean.drop(index="learned").iterrows()
                if mine.angle < r.angle - tie_deg
            ]
            lines.append(
                "The learned method loses to "
                + ("; ".join(loses) if loses else "no detector")
                + "; it beats "
                + ("; ".join(wins) if wins else "no detector on angle")
                + "."
            )
        out[name] = " ".join(lines)
    return out


# ---- optional: FNO augmentation with each detector's fields --------------------------------------------
REUSE_RTOL = 1e-10  # prepared fields closer than this (relative) are one arm's: its runs are reused


def field_values(field, points: torch.Tensor) -> torch.Tensor:
    """The values the augmentation reads from a prepared field (`augmentation.prepare`), float64: a
    tabulated field's table, else the field at `points` (n, 3)."""
    if isinstance(field, augmentation.Tabulated):
        return field.table.to(torch.float64)
    with torch.no_grad():
        return field(points).to(torch.float64)


def field_difference(a, b, points: torch.Tensor) -> float:
    """max |a - b| / max(max |a|, max |b|) over the two prepared fields' values (`field_values`):
    0 for the same values, inf when they cannot be compared (another number of generators, another
    lattice, one tabulated and one not)."""
    va, vb = field_values(a, points), field_values(b, points)
    if va.shape != vb.shape or isinstance(a, augmentation.Tabulated) != isinstance(b, augmentation.Tabulated):
        return math.inf
    scale = max(float(va.abs().max()), float(vb.abs().max())) if va.numel() else 0.0
    diff = float((va - vb).abs().max()) if va.numel() else 0.0
    return 0.0 if diff == 0 else diff / scale


def same_arm(
    fields: dict, earlier: dict[str, dict], points: torch.Tensor, rtol: float = REUSE_RTOL
) -> tuple[str | None, str | None, float]:
    """Whether an augmentation arm ({training seed: prepared field}) is an earlier one
    ({label: {training seed: prepared field}}, in order): the same seeds, and at every seed fields
    whose values differ by at most `rtol` (`field_difference`, the largest over the seeds). The same
    fields give the same augmented copies (the augmentation's draws are seeded alike for every arm)
    and the same training, so such an arm's runs are reused rather than fitted again.

    Returns (the first earlier arm within rtol or None, the closest earlier arm or None, its
    difference; inf when no earlier arm can be compared)."""
    closest, best = None, math.inf
    for label, other in earlier.items():
        if set(other) != set(fields):
            continue
        diff = max((field_difference(fields[s], other[s], points) for s in fields), default=math.inf)
        if diff <= rtol:
            return label, label, diff
        if diff < best:
            closest, best = label, diff
    return None, closest, best


def augmentation_study(
    equation: str,
    profile: str,
    n_train: int,
    seeds,
    p03: dict,
    pde_dir,
    detect: dict | None = None,
    variants=("fitted", "known"),
    device="cpu",
    log=print,
    stored: tuple[pd.DataFrame, dict] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Notebook 03's FNO (`solver_experiments.train_and_score`, its settings p03 =
    profiles "pde_augmentation") on n_train training trajectories of `equation`, one arm per
    augmentation: none, known (the registry's exact symmetries), learned (notebook 02's V1..Vk,
    k the exact count, generator seeds cycled as in notebook 03), untrained (their untrained
    twins) and lienlsd-<variant> (the periodic part of the detection on the same noise-free
    trajectories). Every arm uses the coefficient scale p03["augment"]["scale"]. Returns (runs:
    one row per arm and seed with both metrics; comparisons: each arm against none and against
    known, paired over seeds and test trajectories with hierarchical-bootstrap intervals). An arm
    whose prepared fields are an earlier arm's (`same_arm`, within REUSE_RTOL) is not fitted again:
    it takes that arm's runs and per-trajectory errors under its own label (column runs_of: the
    arm whose fits a row is), and the log says so. stored: (runs, errors) of arms that notebook 03
    already trained with these settings (`augmentation_study.stored_arms`, e.g. none and known): they
    are not fitted again (runs_of: "notebook 03")."""
    eq = pdes.get(equation)
    augment = p03["augment"]
    train, nx = sx.load_trajectories(equation, "train", profile, p03["x_stride"])
    valid, _ = sx.load_trajectories(equation, "valid", profile, p03["x_stride"])
    test, _ = sx.load_trajectories(equation, "test", profile, p03["x_stride"], p03["n_test"])
    sx.check_sizes([n_train], len(train), equation)
    u = train[:n_train]
    seeds = list(seeds)
    task = fno.bundled(20)
    k = len(eq.symmetries_of(("exact",)))

    def prepared(field):
        table = augment.get("table")
        table = tuple(table) if table else None
        return augmentation.prepare(field, u, augment["n_points"], table, seed=augment["seed"])

    fields = {"known": {s: sx.known_field(equation, u, augment) for s in seeds[:1]}}
    fields["known"] = {s: fields["known"][seeds[0]] for s in seeds}
    available = learned_runs(pde_dir, [equation]).get(equation, [])
    if available:
        by_g = {}
        for g in available:
            f = generators.load(Path(pde_dir) / f"{equation}_seed{g}" / "generators.pt")
            twin = untrained_twin(f, g)
            by_g[g] = {
                "learned": prepared(FunctionField(lambda z, f=f: f(z)[..., :k], k, 3)),
                "untrained": prepared(FunctionField(lambda z, f=twin: f(z)[..., :k], k, 3)),
            }
        for arm in ("learned", "untrained"):
            fields[arm] = {s: by_g[available[i % len(available)]][arm] for i, s in enumerate(seeds)}
    ds = solvers.dataset(equation, "train", profile)
    physical_u = torch.tensor(ds["u"].values[:n_train], dtype=torch.float64)
    times = torch.tensor(ds["t"].values, dtype=torch.float64)
    graphs = pde_learning.graphs_of(eq, ds.isel(sample=slice(0, n_train)), torch.float64)
    points = physical_points(eq, pde_learning.evaluation_inner(graphs, 4096))
    for variant in variants:
        det = periodic_part(detectors.detect(eq, physical_u, times, variant=variant, **(detect or {})), points)
        if det.count:
            field = prepared(detectors.function_field(det, eq))
            fields[f"lienlsd-{variant}"] = {s: field for s in seeds}
        log(f"{equation} lienlsd-{variant}: {det.count} periodic field(s) {_format(det.fields)}")
    done = set() if stored is None else set(stored[0].augmentation)
    arms = {} if "none" in done else {"none": sx.make_pools(u, None, task, augment)[0]}
    copies, reused = {}, {}
    compare_at = generators.sample_points(
        pde_graphs.grid_graph(u), augment["n_points"], torch.Generator().manual_seed(augment["seed"]), replace=True
    ).to(torch.float32)
    for label, by_seed in fields.items():
        if label in done:
            continue
        match, closest, diff = same_arm(by_seed, {a: fields[a] for a in arms if a in fields}, compare_at)
        if match:
            reused[label] = match
            copies[label] = copies[match]
            log(f"{equation} {label}: the same fields as {match} (max difference {diff:.1e} relative), its runs reused")
            continue
        if closest is not None and math.isfinite(diff):
            log(f"{equation} {label}: fields differ from {closest}'s by {diff:.1e} relative (>{REUSE_RTOL:g}): trained")
        arms[label], st = sx.make_pools(u, by_seed, task, augment)
        copies[label] = st
        log(f"{equation} {label}: {st['copies']} copies, {st['rejected']} rejected, {st['seconds']:.0f} s")
    runs, errors, _, _ = sx.train_and_score(arms, seeds, task, valid, test, p03["fno"], p03["fit"], device, log=log)
    if stored is not None:
        earlier = stored[0].drop(columns="scale", errors="ignore").assign(runs_of="notebook 03")
        runs = pd.concat([runs, earlier], ignore_index=True)
        errors.update(stored[1])
    labels = ["none", *fields]
    for label, source in reused.items():
        runs = pd.concat([runs, runs[runs.augmentation == source].assign(augmentation=label)], ignore_index=True)
        errors.update({(label, s, m): e for (a, s, m), e in list(errors.items()) if a == source})
    runs_of = runs.runs_of if "runs_of" in runs else pd.Series(index=runs.index, dtype=object)
    runs = runs.assign(runs_of=runs_of.fillna(runs.augmentation.map(lambda a: reused.get(a, a))))
    runs = runs.sort_values("augmentation", key=lambda c: c.map(labels.index), kind="stable").reset_index(drop=True)
    runs.insert(0, "equation", equation)
    runs.insert(1, "n_train", n_train)
    runs = runs.merge(
        pd.DataFrame([{"augmentation": a, **st} for a, st in copies.items()]), how="left", on="augmentation"
    )
    pairs = [("none", a) for a in labels if a != "none"] + [("known", a) for a in labels if a not in ("none", "known")]
    comps = pd.concat(
        [sx.compare(errors, pairs, seeds, metric, p03["n_boot"]) for metric in sx.METRICS], ignore_index=True
    )
    comps.insert(0, "equation", equation)
    comps.insert(1, "n_train", n_train)
    comps["verdict"] = [sx.verdict(r) for r in comps.to_dict("records")]
    return runs, comps


def augmentation_figure(comparisons: pd.DataFrame, metric: str = "cumulative"):
    """One panel per equation of `augmentation_study`'s comparisons (rows "<arm> - none" of the
    column `comparison`): each augmentation's NMSE ratio to no augmentation (`metric`, default the
    cumulative NMSE) with its 95% interval, and a line at 1 (no effect); below 1 the augmentation
    helps. Returns the matplotlib figure; ValueError when no row of `metric` is against none."""
    import matplotlib.pyplot as plt

    arms = comparisons.comparison.str.split(" - ", n=1, expand=True)
    rows = comparisons.assign(arm=arms[0])[(comparisons.metric == metric) & (arms[1] == "none")]
    if rows.empty:
        raise ValueError(f"comparisons has no rows of metric {metric!r} against 'none'")
    names = list(dict.fromkeys(rows.equation))
    fig, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 2.8), layout="constrained", squeeze=False)
    for ax, name in zip(axes[0], names):
        g = rows[rows.equation == name].reset_index(drop=True)
        y = range(len(g))
        ax.errorbar(
            g.ratio,
            y,
            xerr=[g.ratio - g.ratio_low, g.ratio_high - g.ratio],
            fmt="o",
            color="C0",
            capsize=3,
        )
        ax.axvline(1.0, color="0.4", lw=1, ls="--")
        ax.set_yticks(list(y), list(g.arm))
        ax.invert_yaxis()
        ax.set(
            title=f"{name}, {int(g.n_train.iloc[0])} trajectories",
            xlabel=f"{metric} NMSE ratio to no augmentation\n(mean, 95% interval; < 1 helps)",
        )
    return fig
