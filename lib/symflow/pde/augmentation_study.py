"""Notebook 03's study, step by step: does symmetry augmentation help a neural PDE solver?

Each function is one step of the notebook, built from the pieces in `solver_experiments`; `p` is
the resolved "pde_augmentation" settings (`profiles.resolved`).

    study_equations(p)                      every equation a step of the study needs
    load_data(names, profile, p)            train / valid / test trajectories per equation
    generator_fields(names, data, p, dir)   known and learned fields per training seed, and which
                                            notebook-02 generator seed each training seed uses
    magnitude_sweep(data, known, learned, p, task, device)
                                            NMSE against the coefficient scale on one equation
                                            and size, and the chosen scale per augmentation
    size_runs(sweep, data, known, learned, p, task, device)
                                            every (equation, size, augmentation, seed) scored
    comparisons(runs, errors, p)            paired differences with intervals, and LPSDA beside ours
    mean_intervals(errors, p)               each arm's mean NMSE with the same bootstrap's interval
    secondary_runs(...), equivariance(...)  single-time targets, cKdV's symmetry kinds, resampling;
                                            the trained models' equivariance errors
    closing_lines(runs, comparisons, p)     the learning curves and the positive control's verdict
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from .. import metrics
from ..verdicts import control_passes
from . import augmentation, fno, pdes
from . import solver_experiments as sx

PAIRS = (("none", "known"), ("none", "learned"), ("known", "learned"))


def study_equations(p: dict) -> list[str]:
    """The equations of the main comparison, the sweep, the single-time targets, cKdV's kinds
    experiment and the resampling ablation, once each, in that order."""
    return list(
        dict.fromkeys(
            p["equations"]
            + [p["sweep"]["equation"]]
            + p["single_time"]["equations"]
            + (["cKdV"] if p["ckdv"]["sizes"] else [])
            + ([p["ablation"]["equation"]] if p["ablation"]["sizes"] else [])
        )
    )


def load_data(names, profile: str, p: dict, log=print) -> dict:
    """{equation: {"train", "valid", "test": (n, nt, nx') tensors, "nx": the data's grid}}; checks
    that every size the study asks for fits in the training split."""
    data = {}
    for name in names:
        train, nx = sx.load_trajectories(name, "train", profile, p["x_stride"])
        valid, _ = sx.load_trajectories(name, "valid", profile, p["x_stride"])
        test, _ = sx.load_trajectories(name, "test", profile, p["x_stride"], p["n_test"])
        data[name] = {"train": train, "valid": valid, "test": test, "nx": nx}
        sx.check_sizes(p["sizes"] + p["curve_sizes"] + [p["sweep"]["n_train"]], len(train), name)
        log(f"{name:8s} train {tuple(train.shape)}  valid {tuple(valid.shape)}  test {tuple(test.shape)}")
    return data


def generator_fields(names, data: dict, p: dict, generators_dir, log=print) -> tuple[dict, dict, pd.DataFrame]:
    """known[name], learned[name]: {training seed: Field} (learned None when notebook 02 has no
    generators for the equation), and the table (equation, seed, generator_seed, k)."""
    known, learned, used_rows = {}, {}, []
    for name in names:
        k = len(pdes.get(name).symmetries_of(("exact",)))
        field = sx.known_field(name, data[name]["train"], p["augment"])
        known[name] = {s: field for s in p["seeds"]}
        try:
            learned[name], used = sx.learned_fields(
                name,
                data[name]["train"],
                p["augment"],
                generators_dir,
                p["generator_seeds"],
                p["seeds"],
                k,
                data[name]["nx"],
            )
        except FileNotFoundError as missing:
            learned[name], used = None, {}
            log(f"{name}: no learned column ({missing})")
        used_rows += [{"equation": name, "seed": s, "generator_seed": g, "k": k} for s, g in used.items()]
    return known, learned, pd.DataFrame(used_rows)


@dataclass
class Sweep:
    """The magnitude sweep: per (arm@scale, seed) scores (`table`, with columns scale and arm;
    scales as `solver_experiments.scale_label` writes them), per-trajectory errors, the ensemble
    model and its members, the arms' pools, the scale label of each arm label, the copies made,
    and the chosen scale per augmentation (a number, or one per generator)."""

    table: pd.DataFrame
    errors: dict
    model: object
    members: list
    arms: dict
    scale_of: dict
    copies: list
    chosen: dict


def magnitude_sweep(data: dict, known: dict, learned: dict, p: dict, task, device="cpu", log=print) -> Sweep:
    """Train and score no augmentation and every (augmentation, scale) of p["sweep"] on its
    equation and size; the chosen scale of each augmentation is the one with the lowest mean
    validation NMSE (`solver_experiments.choose_scales`)."""
    eq, n = p["sweep"]["equation"], p["sweep"]["n_train"]
    u = data[eq]["train"][:n]
    arms, scale_of, copies = {"none": sx.make_pools(u, None, task, p["augment"])[0]}, {"none": None}, []
    values = {}  # scale label -> the scale (a number, or one per generator)
    for aug, fields in (("known", known[eq]), ("learned", learned[eq])):
        for scale in p["sweep"]["scales"] if fields else []:
            name = sx.scale_label(scale)
            arms[f"{aug}@{name}"], st = sx.make_pools(u, fields, task, p["augment"], scale)
            scale_of[f"{aug}@{name}"], values[name] = name, scale
            copies.append({"equation": eq, "n_train": n, "augmentation": aug, "scale": name, **st})
            log(f"{eq} {aug} scale {name}: {st['copies']} copies, {st['rejected']} rejected, {st['seconds']:.0f} s")
    table, errors, model, members = sx.train_and_score(
        arms, p["seeds"], task, data[eq]["valid"], data[eq]["test"], p["fno"], p["fit"], device, log=log
    )
    table["scale"] = table.augmentation.map(scale_of)
    table["arm"] = table.augmentation.str.split("@").str[0]
    chosen = {aug: values[name] for aug, name in sx.choose_scales(table.assign(augmentation=table.arm)).items()}
    return Sweep(table, errors, model, members, arms, scale_of, copies, chosen)


def _sweep_rows(sweep: Sweep, p: dict) -> tuple[list, dict, dict]:
    """The sweep's runs at the chosen scales, as rows, errors and models of the size study."""
    eq, n = p["sweep"]["equation"], p["sweep"]["n_train"]
    rows, errors, models = [], {}, {}
    for e, (label, seed) in enumerate(sweep.members):
        arm, scale = label.split("@")[0], sweep.scale_of[label]
        if label == "none" or (arm in sweep.chosen and scale == sx.scale_label(sweep.chosen[arm])):
            r = sweep.table.iloc[e]
            rows.append({**r.drop(["arm"]).to_dict(), "equation": eq, "n_train": n, "augmentation": arm})
            for m in sx.METRICS:
                errors[(eq, n, arm, seed, m)] = sweep.errors[(label, seed, m)]
            models[(eq, n, arm, seed)] = sweep.model.member(e)
    return rows, errors, models


def _label(chosen: dict, augmentation: str) -> str | None:
    """The table label of an augmentation's chosen scale (None: no augmentation)."""
    return sx.scale_label(chosen[augmentation]) if augmentation in chosen else None


@dataclass
class SizeRuns:
    """Every run of the size study: one row per (equation, n_train, augmentation, seed) with its
    scores (`runs`), the same in long form (`nmse`), per-trajectory errors
    {(equation, n, augmentation, seed, metric): (n_test,)}, the trained models, the copies made."""

    runs: pd.DataFrame
    nmse: pd.DataFrame
    errors: dict
    models: dict
    copies: list


def size_runs(
    sweep: Sweep,
    data: dict,
    known: dict,
    learned: dict,
    generators_used: pd.DataFrame,
    p: dict,
    task,
    device="cpu",
    log=print,
) -> SizeRuns:
    """Train and score every equation at every size of p["sizes"] (with augmentation, at the
    chosen scales) and p["curve_sizes"] (no augmentation only), reusing the sweep's runs."""
    rows, errors, models = _sweep_rows(sweep, p)
    copies = list(sweep.copies)
    configs = [(name, n, True) for name in p["equations"] for n in p["sizes"]]
    configs += [(name, n, False) for name in p["equations"] for n in p["curve_sizes"]]
    for name, n, augmented in configs:
        if (name, n) == (p["sweep"]["equation"], p["sweep"]["n_train"]):
            continue
        u = data[name]["train"][:n]
        arms = {"none": sx.make_pools(u, None, task, p["augment"])[0]}
        for aug, fields in (("known", known[name]), ("learned", learned[name])):
            if augmented and fields:
                scale = sweep.chosen.get(aug, p["augment"]["scale"])
                arms[aug], st = sx.make_pools(u, fields, task, p["augment"], scale)
                copies.append(
                    {"equation": name, "n_train": n, "augmentation": aug, "scale": _label(sweep.chosen, aug), **st}
                )
        log(f"--- {name}, {n} trajectories: {list(arms)}")
        table, errs, model, members = sx.train_and_score(
            arms, p["seeds"], task, data[name]["valid"], data[name]["test"], p["fno"], p["fit"], device, log=log
        )
        rows += [
            {**r, "equation": name, "n_train": n, "scale": _label(sweep.chosen, r["augmentation"])}
            for r in table.to_dict("records")
        ]
        errors.update({(name, n, a, s, m): v for (a, s, m), v in errs.items()})
        models.update({(name, n, a, s): model.member(e) for e, (a, s) in enumerate(members)})
    runs = pd.DataFrame(rows).merge(
        generators_used[["equation", "seed", "generator_seed"]], how="left", on=["equation", "seed"]
    )
    runs.loc[runs.augmentation != "learned", "generator_seed"] = pd.NA
    nmse = runs.melt(
        id_vars=[
            "equation",
            "n_train",
            "augmentation",
            "seed",
            "generator_seed",
            "scale",
            "steps_trained",
            "best_step",
        ],
        value_vars=list(sx.METRICS),
        var_name="metric",
        value_name="nmse",
    )
    return SizeRuns(runs, nmse, errors, models, copies)


def comparisons(runs: pd.DataFrame, errors: dict, p: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(comparisons, summary, lpsda): every pair of PAIRS per (equation, n_train, metric) with
    paired differences and ratios and their hierarchical-bootstrap intervals and verdicts; the same
    as text intervals; LPSDA's published cumulative NMSE beside this study's mean."""
    rows = []
    for (name, n), _ in runs.groupby(["equation", "n_train"]):
        sub = {(a, s, m): v for (e_, n_, a, s, m), v in errors.items() if (e_, n_) == (name, n)}
        for metric in sx.METRICS:
            c = sx.compare(sub, PAIRS, p["seeds"], metric, p["n_boot"])
            rows += [
                {"equation": name, "n_train": n, **r, "verdict": sx.verdict(r), "change_percent": sx.relative_change(r)}
                for r in c.to_dict("records")
            ]
    table = pd.DataFrame(rows)
    summary = table.assign(
        difference=[
            f"{r.difference:+.3g} [{r.difference_low:+.3g}, {r.difference_high:+.3g}]" for r in table.itertuples()
        ],
        ratio=[f"{r.ratio:.2f} [{r.ratio_low:.2f}, {r.ratio_high:.2f}]" for r in table.itertuples()],
    )[["equation", "n_train", "metric", "comparison", "difference", "ratio", "verdict"]]
    mine = runs.groupby(["equation", "n_train", "augmentation"]).cumulative.mean().rename("cumulative (here)")
    lpsda = sx.LPSDA_REFERENCE.rename(columns={"cumulative": "cumulative (LPSDA)"}).merge(
        mine.reset_index(), how="outer", on=["equation", "n_train", "augmentation"]
    )
    return table, summary, lpsda


def mean_intervals(errors: dict, p: dict) -> pd.DataFrame:
    """The mean NMSE of every (equation, n_train, augmentation, metric) over training seeds and test
    trajectories, with the 95% interval of the same hierarchical bootstrap as the comparisons'
    (`metrics.hierarchical_bootstrap_mean`, p["n_boot"] draws): the error bars of the NMSE-size figure."""
    groups: dict = {}
    for (name, n, arm, seed, metric), v in errors.items():
        groups.setdefault((name, n, arm, metric), {})[seed] = torch.as_tensor(v)
    rows = []
    for (name, n, arm, metric), by_seed in groups.items():
        values = torch.stack([by_seed[s] for s in p["seeds"] if s in by_seed])  # in the comparisons' seed order
        r = metrics.hierarchical_bootstrap_mean(values, p["n_boot"])
        rows.append(
            {
                "equation": name,
                "n_train": n,
                "augmentation": arm,
                "metric": metric,
                "nmse": r["mean"],
                "nmse_low": r["low"],
                "nmse_high": r["high"],
                "seeds": r["seeds"],
                "items": r["items"],
            }
        )
    return pd.DataFrame(rows).sort_values(["equation", "metric", "augmentation", "n_train"], ignore_index=True)


def secondary_runs(data: dict, known: dict, learned: dict, chosen: dict, p: dict, task, device="cpu") -> pd.DataFrame:
    """The secondary experiments (rollout NMSE only): single-time targets of p["single_time"]
    (none vs learned), cKdV with its exact (LPS), approximate (AS) or both kinds of symmetries,
    and sinc vs bilinear resampling of the known augmentation (p["ablation"])."""
    rows = []

    def add(kind, name, n, arms, task_):
        table = sx.train_and_score(
            arms,
            p["seeds"],
            task_,
            data[name]["valid"],
            data[name]["test"],
            p["fno"],
            p["fit"],
            device,
            metrics_=("rollout",),
        )[0]
        rows.extend({**r, "experiment": kind, "equation": name, "n_train": n} for r in table.to_dict("records"))

    st = p["single_time"]
    single = fno.single_time(st["first"], 20, st["target"])
    for name in st["equations"]:
        for n in st["sizes"]:
            u = data[name]["train"][:n]
            arms = {"none": sx.make_pools(u, None, single, p["augment"])[0]}
            if learned[name]:
                arms["learned"] = sx.make_pools(u, learned[name], single, p["augment"], chosen.get("learned"))[0]
            add("single_time", name, n, arms, single)
    for n in p["ckdv"]["sizes"]:
        u = data["cKdV"]["train"][:n]
        arms = {"none": sx.make_pools(u, None, task, p["augment"])[0]}
        for label, kinds in {"LPS": ("exact",), "AS": ("approximate",), "LPS+AS": ("exact", "approximate")}.items():
            f = sx.known_field("cKdV", data["cKdV"]["train"], p["augment"], kinds)
            arms[label] = sx.make_pools(u, {s: f for s in p["seeds"]}, task, p["augment"], chosen.get("known"))[0]
        add("ckdv", "cKdV", n, arms, task)
    ab = p["ablation"]
    for n in ab["sizes"]:
        u = data[ab["equation"]]["train"][:n]
        arms = {
            m: sx.make_pools(u, known[ab["equation"]], task, p["augment"], chosen.get("known"), m)[0]
            for m in ("sinc", "bilinear")
        }
        add("resampling", ab["equation"], n, arms, task)
    return pd.DataFrame(rows)


def equivariance(models: dict, data: dict, p: dict, task) -> pd.DataFrame:
    """For every exact symmetry g of each equation and every model of the first training seed at
    p["sizes"]: the mean relative equivariance error |f(g u) - g f(u)| / |f(u)| over
    p["equivariance"]["n_test"] test trajectories (`augmentation.equivariance_error`), and how
    many trajectories the transformation left uncovered."""
    eqv, rows = p["equivariance"], []
    for name in p["equations"]:
        for sym in pdes.get(name).symmetries_of(("exact",)):
            g = sx.equivariance_field(name, sym, data[name]["train"], p["augment"])
            for (e_, n, aug, seed), model in models.items():
                if e_ == name and seed == p["seeds"][0] and n in p["sizes"]:
                    err = augmentation.equivariance_error(
                        model,
                        data[name]["test"][: eqv["n_test"]],
                        g,
                        [eqv["coefficient"]],
                        task,
                        steps=p["augment"]["steps"],
                    )
                    rows.append(
                        {
                            "equation": name,
                            "symmetry": sym.name,
                            "n_train": n,
                            "augmentation": aug,
                            "error": float(err.nanmean()),
                            "uncovered": int(err.isnan().sum()),
                        }
                    )
    return pd.DataFrame(rows)


def _interval(r) -> str:
    return (
        f"{r.difference:+.3f} [{r.difference_low:+.3f}, {r.difference_high:+.3f}], ratio {r.ratio:.2f} "
        f"[{r.ratio_low:.2f}, {r.ratio_high:.2f}]"
    )


def closing_lines(runs: pd.DataFrame, comparisons_: pd.DataFrame, p: dict) -> list[str]:
    """The study's findings as lines: each equation's learning curve without augmentation (and
    whether it falls by 30 % from the smallest to the largest size), then per size the positive
    control and, only where it passes, learned - none and learned - known."""
    lines, curve = [], runs[runs.augmentation == "none"].groupby(["equation", "n_train"]).cumulative.mean()
    for name in p["equations"]:
        c = curve[name]
        drop = 100 * (1 - c.iloc[-1] / c.iloc[0])
        lines.append(
            f"{name} learning curve (none, cumulative): "
            + ", ".join(f"{n}: {v:.3f}" for n, v in c.items())
            + f" -> {drop:.0f}% lower at {c.index[-1]} than at {c.index[0]} "
            + ("(falls >= 30%)" if drop >= 30 else "(does NOT fall 30%)")
        )
    cum = comparisons_[comparisons_.metric == "cumulative"].set_index(["equation", "n_train", "comparison"])
    for name in p["equations"]:
        for n in p["sizes"]:
            if (name, n, "known - none") not in cum.index:
                continue
            control = cum.loc[(name, n, "known - none")]
            passed = control_passes(control)
            lines.append(
                f"{name} n={n}: known - none {_interval(control)} -> positive control "
                + ("PASSES" if passed else "shows no effect (undecidable on these data for the learned generators)")
            )
            for comp in ("learned - none", "learned - known"):
                if passed and (name, n, comp) in cum.index:
                    r = cum.loc[(name, n, comp)]
                    lines.append(f"    {comp}: {_interval(r)} ({sx.verdict(r)})")
    return lines


# The settings of notebook 03 that decide an arm's runs: equal settings, commit, data and scale make
# equal runs (every ensemble member trains on its own, so the other arms trained beside it do not matter).
RUN_SETTINGS = ("seeds", "n_test", "x_stride", "fno", "fit", "augment")


def stored_arms(
    folder, equation: str, n_train: int, seeds, p: dict, profile: str, arms=("none", "known"), log=print
) -> tuple[pd.DataFrame, dict] | None:
    """The runs of `arms` that notebook 03's run in `folder` (its results folder) already trained
    for `equation` at n_train trajectories, for reuse by another study of the same settings
    (notebook 07's FNO augmentation), or None with the reason logged.

    They are reused only when that run's provenance shows the same profile, the same RUN_SETTINGS
    as `p` (and `seeds`), the same clean commit as now (`io.git_commit`), and the same fingerprints
    of this equation's data files as now; and when its tables hold every arm and seed, the known
    arm at the coefficient scale p["augment"]["scale"]. Returns (runs: rows of nmse-like
    columns augmentation, seed, rollout, cumulative, steps_trained, best_step, scale; errors:
    {(arm, seed, metric): (n_test,) float64 tensor}), as `solver_experiments.train_and_score` keys
    them."""
    import json
    from pathlib import Path

    import xarray as xr

    from .. import io
    from . import solvers

    folder = Path(folder)
    files = [folder / name for name in ("provenance.json", "nmse.csv", "errors_per_trajectory.nc")]
    missing = [f.name for f in files if not f.exists()]
    if missing:
        log(f"{equation}: no stored runs of {', '.join(arms)} to reuse ({', '.join(missing)} missing in {folder})")
        return None
    prov = json.loads(files[0].read_text())
    settings = prov.get("settings") or {}
    wanted = {**{k: p[k] for k in RUN_SETTINGS}, "seeds": list(seeds)}
    data = io.fingerprints(solvers.data_path(equation, split, profile) for split in ("train", "valid", "test"))
    commit = io.git_commit()
    reasons = [
        *(["another profile"] if prov.get("profile") != profile else []),
        *(
            [f"other settings ({', '.join(k for k in wanted if settings.get(k) != wanted[k])})"]
            if any(settings.get(k) != wanted[k] for k in wanted)
            else []
        ),
        *(["another or uncommitted commit"] if commit.endswith("-dirty") or prov.get("git_commit") != commit else []),
        *(["other data"] if any(prov.get("inputs", {}).get(k) != v for k, v in data.items()) or not data else []),
    ]
    if reasons:
        log(f"{equation}: the runs in {io.repo_relative(folder)} are not reused: {'; '.join(reasons)}")
        return None
    table = pd.read_csv(files[1])
    table = table[(table.equation == equation) & (table.n_train == n_train) & table.augmentation.isin(arms)]
    scale = sx.scale_label(p["augment"]["scale"])
    known = table[table.augmentation == "known"]
    if "known" in arms and len(known) and (known.scale.astype(str) != scale).any():
        log(f"{equation}: the stored known arm used scale {known.scale.iloc[0]}, not {scale}: not reused")
        return None
    errors = {}
    with xr.open_dataset(files[2]) as ds:
        for arm in arms:
            for seed in seeds:
                for metric in sx.METRICS:
                    hit = (
                        (ds.equation == equation)
                        & (ds.n_train == n_train)
                        & (ds.augmentation == arm)
                        & (ds.seed == seed)
                        & (ds.metric == metric)
                    ).values
                    if hit.sum() != 1:
                        log(f"{equation}: no stored {arm} run of seed {seed} ({metric}) to reuse")
                        return None
                    errors[(arm, seed, metric)] = torch.tensor(ds.nmse.values[hit.argmax()], dtype=torch.float64)
    runs = table.pivot_table(
        index=["augmentation", "seed"], columns="metric", values="nmse", aggfunc="first"
    ).reset_index()
    extra = table.drop_duplicates(["augmentation", "seed"]).set_index(["augmentation", "seed"])
    runs = runs.join(extra[["steps_trained", "best_step", "scale"]], on=["augmentation", "seed"])
    where = io.repo_relative(folder)
    log(f"{equation}: reusing notebook 03's runs of {', '.join(arms)} at {n_train} trajectories ({where})")
    return runs, errors
