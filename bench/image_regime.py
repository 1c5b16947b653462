"""Choosing notebook 05's regime on validation images: where does affine augmentation beat none detectably?

For every candidate (training digits per class x epochs x width x coefficient scale) this trains
the none and affine classifiers of `--seeds` training seeds (symflow.image.image_augmentation at the
given profile, the rest of its parameters unchanged) on the profile's training pool and scores
them on its validation images (`validation_per_class` of every class held out of the training
images by `images.hold_out`, seed 1; never the test set), and appends one row per candidate to a
CSV: mean validation accuracies, the paired affine - none difference with its 95%
hierarchical-bootstrap interval (percentage points), and the median seconds per classifier run.

    OMP_NUM_THREADS=1 python bench/image_regime.py --per-class 10 20 50 --epochs 20 40 --seeds 10 \
        --out /tmp/image_regime.csv

Uses notebook 04's shared/pixel_weight.nc (results/04_image_symmetries/<profile>) for the affine fields'
normalisation, so run notebook 04 first. Rows already in --out (same candidate and seeds) are
skipped, so a run can resume; a file of the earlier sweep (scored on the test set, without the
validation_images column) is replaced.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from pathlib import Path

import pandas as pd
import torch

from symflow import runner
from symflow.image import image_augmentation as ia
from symflow.image import images

KEYS = ["per_class", "epochs", "width", "scale", "seeds"]


def validation_data(params: dict) -> images.ImageData:
    """The profile's data set (cropped as notebook 05 crops it) with the training pool in the
    training slots and the validation images in the test slots (`images.hold_out`, seed 1: the
    images `image_augmentation.training_pool` leaves out)."""
    data = images.load_dataset(params["dataset"], crop=params["crop"])
    return images.hold_out(data, params["validation_per_class"], seed=1)


def candidate(
    profile: str,
    per_class: int,
    epochs: int,
    width: int,
    scale: float,
    seeds: int,
    n_boot: int,
    symmetries_dir: Path,
    data,
    log=print,
) -> dict:
    params = ia.parameters(
        profile,
        {
            "train_per_class": per_class,
            "epochs": epochs,
            "width": width,
            "scale": scale,
            "seeds": list(range(seeds)),
            "symmetry_seeds": [0],
        },
    )
    c, h, w = data.shape
    fields = ia.load_fields(symmetries_dir, [0], params["n_fields"], h, w, profile)
    augs = ia.make_augmentations(params, data.shape, fields)
    valid = (data.test_x, data.test_y)  # `validation_data`: the held-out training images
    runs = {
        name: ia.run_configuration(name, augs[name], data, params, test=valid, log=log) for name in ("none", "affine")
    }
    row = ia.comparison_table(runs, [("affine", "none")], n_boot=n_boot).iloc[0]
    secs = {k: float(pd.Series(r["seconds"]).median()) for k, r in runs.items()}
    return {
        "per_class": per_class,
        "epochs": epochs,
        "width": width,
        "scale": scale,
        "seeds": seeds,
        "validation_images": len(data.test_y),
        "none_accuracy": row.baseline_accuracy,
        "affine_accuracy": row.treatment_accuracy,
        "difference": row.difference,
        "low": row.low,
        "high": row.high,
        "excludes_zero": row.excludes_zero,
        "seconds_none": secs["none"],
        "seconds_affine": secs["affine"],
        "threads": torch.get_num_threads(),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--per-class", type=int, nargs="+", default=[10, 20, 50])
    parser.add_argument("--epochs", type=int, nargs="+", default=[30])
    parser.add_argument("--width", type=int, nargs="+", default=[8])
    parser.add_argument("--scale", type=float, nargs="+", default=[0.1 / math.sqrt(6)])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--symmetries-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    source = args.symmetries_dir or runner.output_dir(ia.SYMMETRIES_NOTEBOOK, args.profile)
    data = validation_data(ia.parameters(args.profile))
    done = pd.read_csv(args.out) if args.out.exists() else pd.DataFrame(columns=KEYS)
    if len(done) and "validation_images" not in done:  # rows of the earlier sweep, scored on the test set
        print(f"{args.out}: its rows were scored on the test set; they are replaced")
        done = pd.DataFrame(columns=KEYS)
    for pc, ep, wd, sc in itertools.product(args.per_class, args.epochs, args.width, args.scale):
        key = (pc, ep, wd, round(sc, 6), args.seeds)
        if any(
            tuple(r) == key for r in done[KEYS].assign(scale=done.scale.astype(float).round(6)).itertuples(index=False)
        ):
            print("skip", key)
            continue
        start = time.time()
        row = candidate(args.profile, pc, ep, wd, sc, args.seeds, args.n_boot, source, data, log=None)
        print(
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()},
            f"({time.time() - start:.0f} s)",
            flush=True,
        )
        done = pd.concat([done, pd.DataFrame([row])], ignore_index=True)
        done.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
