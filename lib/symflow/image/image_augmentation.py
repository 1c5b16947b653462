"""Does symmetry augmentation help a classifier? No / default / affine / learned / untrained
augmentation of small image training sets, compared per test image (Ko, Kim & Lee 2024, image
experiment 3; notebook 05). "untrained" is the negative control: the fields of notebook 04's
network before learning, at the same scale; learned - untrained is what learning adds.

    parameters(profile, overrides)          the profile's entry with `overrides` deep-merged
    stratified_subset(labels, per_class, seed)  indices of `per_class` images of every class
    generator_seeds(n_runs, symmetry_seeds)  which notebook-04 field each training seed uses
    training_pool(data, params)              the training images less the validation images
    load_fields(symmetries_dir, ...)         inner product, normalised affine, orthonormalised
                                             learned and untrained fields
    make_augmentations(params, shape, fields)  the five augmentations (learned, untrained: one per
                                             field seed)
    run_configuration(...)                   one augmentation: a classifier per training seed,
                                             per-test-image correctness (S, N)
    run_all(...)                             every augmentation in `augmentations`
    accuracy_table(runs), comparison_table(runs), conclusion(table)

The comparison is paired: run s of every augmentation has the same training seed (classifier
initialisation, batch order, training subset), and all runs are scored on the same test images,
so a difference is computed per (seed, test image) and its interval comes from
`metrics.hierarchical_bootstrap` (seeds resampled, then test images within each seed).
Accuracies and differences are reported in percent / percentage points.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from .. import flows, generators, metrics, profiles
from . import image_symmetries, images

EXPERIMENT = "image_augmentation"
NOTEBOOK = "05_image_augmentation"
SYMMETRIES_NOTEBOOK = "04_image_symmetries"
AUGMENTATIONS = ("none", "default", "affine", "learned", "untrained")
# augmentations whose fields come from notebook 04, one field per generator seed
PER_GENERATOR_SEED = ("learned", "untrained")
# (treatment, baseline): rows of the comparison table, the positive control first, then the
# negative control (untrained fields: what learning adds)
COMPARISONS = (
    ("affine", "none"),
    ("learned", "none"),
    ("learned", "affine"),
    ("learned", "untrained"),
    ("untrained", "none"),
    ("default", "none"),
)
NO_GENERATOR = -1  # generator_seed of a run that uses no learned field


# ----------------------------------------------------------------------------------------------
# Parameters


def parameters(profile: str, overrides: dict | None = None) -> dict:
    """`profiles.get(profile, "image_augmentation")` with `overrides` deep-merged (`profiles.merge`:
    an unknown key is a ValueError listing the valid ones)."""
    return profiles.resolved(profile, EXPERIMENT, overrides)


# ----------------------------------------------------------------------------------------------
# Data and seeds


def stratified_subset(labels: torch.Tensor, per_class: int | None, seed: int) -> torch.Tensor:
    """Sorted indices (int64) of `per_class` items of every class in `labels` (n,), drawn without
    replacement with `seed` (`images._split_stratified`); None: all n indices. Raises a
    ValueError when a class has fewer than `per_class` items or per_class < 1."""
    labels = torch.as_tensor(labels)
    if per_class is None:
        return torch.arange(len(labels))
    counts = torch.bincount(labels)
    present = counts[counts > 0]
    if not isinstance(per_class, (int, np.integer)) or per_class < 1 or int(present.min()) < per_class:
        raise ValueError(
            f"per_class must be an integer from 1 to {int(present.min())} (the smallest "
            f"class's size); got {per_class!r}"
        )
    mask = images._split_stratified(labels.cpu().numpy(), int(per_class), seed)
    return torch.from_numpy(np.flatnonzero(mask))


def generator_seeds(n_runs: int, symmetry_seeds) -> list[int]:
    """The notebook-04 generator seed of each of `n_runs` training runs: run i (the i-th entry of
    the training seeds) uses symmetry_seeds[i % len(symmetry_seeds)]. Raises a ValueError when
    symmetry_seeds is empty."""
    symmetry_seeds = [int(s) for s in symmetry_seeds]
    if not symmetry_seeds:
        raise ValueError("symmetry_seeds must name at least one notebook-04 seed")
    return [symmetry_seeds[i % len(symmetry_seeds)] for i in range(n_runs)]


# ----------------------------------------------------------------------------------------------
# Fields and augmentations


@dataclass
class Fields:
    """The fields of the flow augmentations, all under notebook 04's inner product.

    inner: the pixel-weighted inner product (shared/pixel_weight.nc); affine: the 6 affine fields,
    each normalised; learned, untrained: {generator seed: the first n_fields of that seed's
    learned (untrained) fields, orthonormalised in order (Gram-Schmidt, as notebook 04 evaluates
    them)}. Untrained heads start nearly parallel, so merely normalised they would be one
    translation six times; orthonormalised, both arms flow along six orthonormal fields with the
    same coefficients. untrained is empty when it was not asked for.
    """

    inner: generators.InnerProduct
    affine: generators.Field
    learned: dict[int, generators.Field]
    untrained: dict[int, generators.Field] = dataclasses.field(default_factory=dict)


def _producing_command(profile: str, seed: int) -> str:
    cmd = f"python -m symflow.runner {SYMMETRIES_NOTEBOOK} --profile {profile}"
    return cmd if seed == 0 else f"{cmd} --tag seed{seed} -p 'overrides={{\"seed\": {seed}}}'"


def available_seeds(symmetries_dir, symmetry_seeds, log=print) -> list[int]:
    """The seeds of `symmetry_seeds` whose learned field notebook 04 has written to
    `symmetries_dir` (seed 0 comes with `make reproduce`, others with `make evidence`), each
    missing one announced through `log`; all of them when none is there, so that `load_fields`
    names the missing file."""
    seeds = [int(s) for s in symmetry_seeds]
    found = [s for s in seeds if (Path(symmetries_dir) / f"learned_field_seed{s}.pt").is_file()]
    for s in sorted(set(seeds) - set(found)):
        log(f"generator seed {s} of notebook 04 is not there (make evidence runs it); using seeds {found}")
    return found or seeds


def _first_orthonormal(field: generators.Field, inner: generators.InnerProduct, n_fields: int) -> generators.Field:
    """The first n_fields generators of `field`, normalised and orthonormalised in order under `inner`."""
    if not 1 <= n_fields <= field.n_generators:
        raise ValueError(f"n_fields must be from 1 to {field.n_generators}; got {n_fields}")
    ortho = generators.orthonormalise(generators.normalise(field, inner), inner)
    keep = torch.eye(field.n_generators)[:, :n_fields]
    return image_symmetries.linear_combination(keep, ortho)


def load_fields(
    symmetries_dir,
    symmetry_seeds,
    n_fields: int,
    height: int,
    width: int,
    profile: str | None = None,
    untrained: bool = False,
) -> Fields:
    """Read notebook 04's results folder `symmetries_dir` (results/04_image_symmetries/<profile>):

        shared/pixel_weight.nc       w(p) on the height x width pixel grid -> the inner product
        learned_field_seed{S}.pt     the learned GeneratorField of generator seed S, for S in symmetry_seeds
        untrained_field_seed{S}.pt   (with `untrained`) the same network before learning

    The affine fields are divided by their norms under that inner product; of each learned (and
    untrained) field the first `n_fields` generators are kept, normalised and orthonormalised in
    order (`generators.orthonormalise`). Raises FileNotFoundError naming the missing file and
    the command that makes it (`profile`: in that command; default the folder's name), and
    ValueError for no seeds, a weight map of the wrong size or n_fields out of range.
    """
    folder = Path(symmetries_dir)
    profile = profile or folder.name
    weight_file = folder / "shared" / "pixel_weight.nc"
    seeds = sorted({int(s) for s in symmetry_seeds})
    if not seeds:
        raise ValueError("symmetry_seeds must name at least one notebook-04 seed")
    kinds = ("learned", "untrained") if untrained else ("learned",)
    needed = [(weight_file, 0)] + [(folder / f"{k}_field_seed{s}.pt", s) for s in seeds for k in kinds]
    for path, seed in needed:
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: run notebook {SYMMETRIES_NOTEBOOK} for generator "
                f"seed {seed} first ({_producing_command(profile, seed)}), or point "
                f"symmetries_dir at a folder that has it"
            )
    weight = image_symmetries.load_pixel_weight(weight_file).reshape(-1)
    if weight.numel() != height * width:
        raise ValueError(
            f"{weight_file} holds {weight.numel()} pixel weights; the images have "
            f"{height}x{width} = {height * width} pixels"
        )
    inner = image_symmetries.image_inner_product(weight, height, width)
    fields = {
        k: {s: _first_orthonormal(generators.load(folder / f"{k}_field_seed{s}.pt"), inner, n_fields) for s in seeds}
        for k in kinds
    }
    return Fields(
        inner, generators.normalise(generators.affine_fields(), inner), fields["learned"], fields.get("untrained", {})
    )


def make_augmentations(params: dict, image_shape: tuple[int, int, int], fields: Fields) -> dict:
    """{"none": None, "default": crop (+ flip), "affine": flow along the affine fields,
    "learned": {generator seed: flow along that seed's learned fields}, and "untrained" likewise
    when `fields` has untrained fields}: callables (images (B, C, H, W), torch.Generator) ->
    images from `make_augmentation`, with the profile's padding, flip, scale (coefficients
    U(-scale, scale) per field, unit time) and steps; every flow at the same scale.
    """
    flow = dict(scale=params["scale"], steps=params["steps"])
    out = {
        "none": make_augmentation("none", image_shape),
        "default": make_augmentation("default", image_shape, padding=params["padding"], flip=params["flip"]),
        "affine": make_augmentation("flow", image_shape, fields.affine, **flow),
        "learned": {s: make_augmentation("flow", image_shape, f, **flow) for s, f in fields.learned.items()},
    }
    if fields.untrained:
        out["untrained"] = {s: make_augmentation("flow", image_shape, f, **flow) for s, f in fields.untrained.items()}
    return out


# ----------------------------------------------------------------------------------------------
# Training and scoring


def training_pool(data: images.ImageData, params: dict) -> images.ImageData:
    """The images the classifiers train on: `data` less `validation_per_class` training images of
    every class (`images.hold_out`, seed 1: the images `bench/image_regime.py` chooses the regime
    on), with the test images kept; `data` itself when validation_per_class is None."""
    per_class = params["validation_per_class"]
    if per_class is None:
        return data
    pool = images.hold_out(data, per_class, seed=1)
    return images.ImageData(data.name, pool.train_x, pool.train_y, data.test_x, data.test_y, data.classes)


def evaluation_set(data: images.ImageData, params: dict, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The test images and labels: all of them, or `test_per_class` per class (stratified, seed 0)."""
    idx = stratified_subset(data.test_y, params["test_per_class"], 0)
    return data.test_x[idx].to(device), data.test_y[idx].to(device)


def run_configuration(
    name: str,
    augment,
    data: images.ImageData,
    params: dict,
    device="cpu",
    test: tuple[torch.Tensor, torch.Tensor] | None = None,
    log=print,
) -> dict:
    """Train one classifier per training seed in params["seeds"] with augmentation `augment` and
    score it on the test set (`evaluation_set(data, params)` unless `test` is given).

    augment: None, a callable (images, torch.Generator) -> images, or {generator seed: callable}
    (learned or untrained fields): run i then uses augment[generator_seeds(S, symmetry_seeds)[i]].
    Run i (training seed s = seeds[i]): torch.manual_seed(s), a fresh `images.make_classifier`,
    `images.train_classifier` on `train_per_class` images of every class drawn with seed s
    (`stratified_subset`; None: the whole training set), batch order and augmentation draws seeded
    by s. The same seed gives the same subset, initialisation and batch order for every
    augmentation, so runs of different augmentations are paired by seed.

    Returns {"augmentation": name, "seeds": [S], "generator_seed": [S] (NO_GENERATOR when not
    learned), "n_train": [S], "correct": (S, N) uint8 array, "accuracy": (S,) in [0, 1],
    "seconds": (S,) wall time of each run}.
    """
    seeds = [int(s) for s in params["seeds"]]
    learned = isinstance(augment, dict)  # learned or untrained fields: one per generator seed
    gen_seeds = generator_seeds(len(seeds), params["symmetry_seeds"]) if learned else [NO_GENERATOR] * len(seeds)
    if learned and (missing := sorted(set(gen_seeds) - set(augment))):
        raise ValueError(f"augment has no learned field for generator seed(s) {missing}; it has {sorted(augment)}")
    test_x, test_y = test if test is not None else evaluation_set(data, params, device)
    training = images.ClassifierTraining.from_settings(params)
    correct, seconds, n_train = [], [], []
    for s, g in zip(seeds, gen_seeds):
        start = time.perf_counter()
        idx = stratified_subset(data.train_y, params["train_per_class"], s)
        x, y = data.train_x[idx].to(device), data.train_y[idx].to(device)
        torch.manual_seed(s)
        model = images.make_classifier(params["arch"], data, params["width"]).to(device)
        images.train_classifier(model, x, y, training, augment=augment[g] if learned else augment, seed=s, log=None)
        correct.append(images.correct_predictions(model, test_x, test_y))
        seconds.append(time.perf_counter() - start)
        n_train.append(len(idx))
    correct = np.stack(correct)
    if log:
        accuracy = correct.mean(axis=1)
        log(
            f"{name:8s} {len(seeds)} classifiers: test accuracy mean {accuracy.mean():.2%}, "
            f"seeds {accuracy.min():.2%}..{accuracy.max():.2%} ({sum(seconds):.0f} s)"
        )
    return {
        "augmentation": name,
        "seeds": seeds,
        "generator_seed": gen_seeds,
        "n_train": n_train,
        "correct": correct,
        "accuracy": correct.mean(axis=1),
        "seconds": np.asarray(seconds),
    }


def run_all(augmentations: dict, data: images.ImageData, params: dict, device="cpu", log=print) -> dict:
    """`run_configuration` for every item of `augmentations` (name -> augment), in order: {name: run}."""
    test = evaluation_set(data, params, device)
    return {name: run_configuration(name, aug, data, params, device, test, log) for name, aug in augmentations.items()}


# ----------------------------------------------------------------------------------------------
# Tables


def accuracy_table(runs: dict) -> pd.DataFrame:
    """One row per (augmentation, training seed): augmentation, seed, generator_seed, n_train,
    accuracy (fraction in [0, 1]), seconds."""
    rows = [
        {"augmentation": name, "seed": s, "generator_seed": g, "n_train": n, "accuracy": float(a), "seconds": float(t)}
        for name, run in runs.items()
        for s, g, n, a, t in zip(run["seeds"], run["generator_seed"], run["n_train"], run["accuracy"], run["seconds"])
    ]
    return pd.DataFrame(rows)


def comparison_table(
    runs: dict, comparisons=COMPARISONS, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Paired comparisons (treatment, baseline) of runs' per-test-image correctness.

    For each pair present in `runs`: `metrics.hierarchical_bootstrap(100 * correct[baseline],
    100 * correct[treatment])` (S training seeds x N test images, resampled seeds first, then test
    images; the same draws for both). Columns: comparison ("treatment - baseline"), treatment,
    baseline, treatment_accuracy and baseline_accuracy (%), difference, low, high (percentage
    points, the central `level` interval), excludes_zero (low > 0 or high < 0), seeds, items.
    Raises a ValueError when the two runs of a pair were not trained on the same seeds.
    """
    rows = []
    for treatment, baseline in comparisons:
        if treatment not in runs or baseline not in runs:
            continue
        t, b = runs[treatment], runs[baseline]
        if list(t["seeds"]) != list(b["seeds"]) or t["correct"].shape != b["correct"].shape:
            raise ValueError(
                f"{treatment} and {baseline} must be scored on the same seeds and test images; "
                f"got seeds {t['seeds']} / {b['seeds']}, shapes {t['correct'].shape} / "
                f"{b['correct'].shape}"
            )
        r = metrics.hierarchical_bootstrap(100.0 * b["correct"], 100.0 * t["correct"], n_boot, level, seed)
        rows.append(
            {
                "comparison": f"{treatment} - {baseline}",
                "treatment": treatment,
                "baseline": baseline,
                "treatment_accuracy": r["treatment"],
                "baseline_accuracy": r["baseline"],
                "difference": r["difference"],
                "low": r["difference_low"],
                "high": r["difference_high"],
                "excludes_zero": bool(r["difference_low"] > 0 or r["difference_high"] < 0),
                "seeds": r["seeds"],
                "items": r["items"],
            }
        )
    return pd.DataFrame(rows)


def per_seed_differences(runs: dict, comparisons=COMPARISONS) -> pd.DataFrame:
    """Accuracy difference (percentage points) of each pair per training seed: comparison, seed, difference."""
    return pd.DataFrame(
        [
            {"comparison": f"{t} - {b}", "seed": s, "difference": 100.0 * float(dt - db)}
            for t, b in comparisons
            if t in runs and b in runs
            for s, dt, db in zip(runs[t]["seeds"], runs[t]["accuracy"], runs[b]["accuracy"])
        ]
    )


def _versus(r) -> str:
    """How a paired difference with interval (low, high) reads: beats / is worse than / is not
    distinguishable from."""
    return "beats" if r.low > 0 else "is worse than" if r.high < 0 else "is not distinguishable from"


def conclusion(table: pd.DataFrame) -> str:
    """The verdict read off a `comparison_table`: first whether affine - none excludes 0 (the
    positive control: the experiment can detect an augmentation that helps). Only if it does,
    whether learned - none excludes 0, where learned - affine lies, and the negative control:
    untrained - none and learned - untrained (does learning the fields matter?); otherwise a
    statement that no conclusion about learned augmentation is drawn. Raises a ValueError
    without an affine - none row."""
    rows = table.set_index("comparison")

    def text(key):
        r = rows.loc[key]
        return (
            f"{key}: {r.difference:+.2f} points, 95% interval [{r.low:+.2f}, {r.high:+.2f}] "
            f"({r.treatment_accuracy:.2f}% vs {r.baseline_accuracy:.2f}%, {r.seeds} seeds x {r['items']} test images)"
        )

    if "affine - none" not in rows.index:
        raise ValueError("the table has no 'affine - none' row (the positive control)")
    control = rows.loc["affine - none"]
    lines = [text("affine - none")]
    if not control.low > 0:
        lines.append(
            "positive control FAILED: affine augmentation does not beat none with an interval "
            "excluding 0, so this regime cannot detect a helpful augmentation; no conclusion "
            "about learned augmentation is drawn."
        )
        return "\n".join(lines)
    lines.append("positive control passed: affine augmentation beats none (interval excludes 0).")
    if "learned - none" in rows.index:
        r = rows.loc["learned - none"]
        lines += [text("learned - none"), f"learned augmentation {_versus(r)} no augmentation."]
    if "learned - affine" in rows.index:
        r = rows.loc["learned - affine"]
        where = "better than" if r.low > 0 else "worse than" if r.high < 0 else "not distinguishable from"
        gain = control.difference
        share = (
            f"; learned recovers {100 * rows.loc['learned - none'].difference / gain:.0f}% of affine's gain"
            if "learned - none" in rows.index and gain > 0
            else ""
        )
        lines += [text("learned - affine"), f"learned augmentation is {where} affine{share}."]
    if "untrained - none" in rows.index:
        r = rows.loc["untrained - none"]
        lines += [text("untrained - none"), f"untrained-field augmentation {_versus(r)} no augmentation."]
    if "learned - untrained" in rows.index:
        r = rows.loc["learned - untrained"]
        if r.low > 0:
            verdict = "learning matters: learned augmentation beats the untrained fields at the same scale."
        elif r.high < 0:
            verdict = "learned augmentation is worse than the untrained fields at the same scale."
        else:
            verdict = (
                "learned and untrained fields are not distinguishable (negative control): this "
                "experiment does not show that learning the fields mattered for augmentation."
            )
        lines += [text("learned - untrained"), verdict]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Augmentation


def crop_augment(padding: int, flip: bool = False):
    """Random crop after zero padding by `padding` pixels (a random integer shift), plus a random
    horizontal flip when `flip`. Returns a callable (images, torch.Generator) -> images."""

    def apply(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        b, _, h, w = x.shape
        padded = F.pad(x, (padding,) * 4)
        shifts = torch.randint(0, 2 * padding + 1, (b, 2), generator=gen)
        out = torch.stack([padded[i, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(shifts.tolist())])
        if flip:
            mirror = (torch.rand(b, generator=gen) < 0.5).to(x.device)
            out[mirror] = out[mirror].flip(-1)
        return out

    return apply


class FlowAugment:
    """Random flows along a combination of K fields: V_c = sum_k c_k V_k, c_k ~ U(-scale, scale),
    per image, flowed for unit time (out(p) = f(phi^{V_c}_{-1}(p)), as `flows.warp_images`).

    The K fields are tabulated once on the pixel grid and interpolated bilinearly between pixel
    centres (exact for affine fields inside the image; the border value outside it), so a batch
    costs a few grid_samples instead of MLP evaluations at every pixel of every image.
    """

    def __init__(self, field: generators.Field, height: int, width: int, scale: float, steps: int = 4):
        with torch.no_grad():
            V = field(generators.grid_points(height, width))  # (H*W, 2, K)
        self.table = V.permute(2, 1, 0).reshape(field.n_generators, 2, height, width)
        self.scale, self.steps, self.shape = scale, steps, (height, width)

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        b, _, h, w = x.shape
        if (h, w) != self.shape:
            raise ValueError(f"images must be {self.shape[0]}x{self.shape[1]}; got {h}x{w}")
        coef = ((2 * torch.rand(b, self.table.shape[0], generator=gen) - 1) * self.scale).to(x)
        combined = torch.einsum("bk,kchw->bchw", coef, self.table.to(x))  # (B, 2, H, W)

        def velocity(z):  # (B, n, 2) -> (B, n, 2); outside the image the border value
            return flows.grid_lookup(combined, z).transpose(1, 2)

        with torch.no_grad():
            grid = generators.grid_points(h, w, dtype=x.dtype).to(x.device).expand(b, -1, -1)
            moved = flows.flow(velocity, grid, -1.0, self.steps)
            return flows.sample_images(x, moved.reshape(b, h, w, 2))


def make_augmentation(
    kind: str,
    image_shape: tuple[int, int, int],
    field: generators.Field | None = None,
    padding: int = 2,
    flip: bool = False,
    scale: float = 0.1 / math.sqrt(6),
    steps: int = 4,
):
    """The augmentation callable (images, torch.Generator) -> images, or None for "none".

    "default": `crop_augment(padding, flip)`; "flow": `FlowAugment(field, ..., scale, steps)` (the
    notebook passes the normalised affine or learned fields).
    """
    if kind == "none":
        return None
    if kind == "default":
        return crop_augment(padding, flip)
    if kind == "flow":
        if field is None:
            raise ValueError("field must be given for kind='flow'")
        return FlowAugment(field, image_shape[1], image_shape[2], scale, steps)
    raise ValueError(f"kind must be one of none, default, flow; got {kind!r}")
