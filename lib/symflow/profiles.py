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
