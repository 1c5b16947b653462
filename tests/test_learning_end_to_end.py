"""End to end: the PDE learner, trained for real on exact Burgers solutions, finds their symmetries,
and it does so because of both its validity term and its orthonormality term.

What it proves. `pde_learning.train` (notebook 02's learner, at the quick profile's settings with
smaller sizes: 3 generators, width 16, 300 iterations, one patch of 8 rows x 32 columns per step)
learns on 4 exact Cole-Hopf Burgers trajectories (`solvers.generate`, nx 32, the training seed)
three generators whose span is the span of Burgers' three exact symmetries d_x, d_t and the
Galilean boost t d_x + d_u. "The span is reached" means, under an inner product of 4096 points of
4 test trajectories (the test seed), both halves of notebook 02's basis-free acceptance:

    the largest principal angle (`metrics.principal_angles`) between span(V1, V2, V3) and the
    symmetries' span is <= MAX_ANGLE_DEG = 1 degree, and
    the generators are independent: `pde_learning.independence` >= 0.5 (`acceptance`'s bound).

The angle bound is below the 1.8 degrees between the boost and the u-shift d_u, a control (in
Burgers' normalised coordinates the boost is mostly c d_u): a span holding d_u instead of the
boost does not pass (`test_the_angle_bound_tells_the_boost_from_the_u_shift`). The untrained field
does not reach the span, and neither does the same training with either loss term switched off.

Measured (seed 0, one thread), largest angle and independence:
    trained                 0.40 degrees, 0.992
    untrained               11.9 degrees, 0.33
    ortho off (w_ortho = 0) 0.43 degrees, 0.051  the generators collapse onto one another
    sym off (w_sym = 0)     28.8 degrees, 0.97   orthonormal, smooth and no symmetries
Principal angles are blind to collapse: nearly parallel valid generators still span the valid
directions numerically (their small differences are valid too), so without the orthonormality
term it is the independence half that fails, not the angle. Seeds 1 and 2 gave 0.32 / 0.25
degrees trained, independence 0.010 / 0.002 with ortho off and 21.7 / 25.6 degrees with sym off.
The file's tests take 16 s on one thread (the three trainings 3-8 s each), 20-27 s while other
work loads the machine's two cores.
"""

from __future__ import annotations

import functools

import pytest
import torch

from symflow import generators, metrics, profiles
from symflow.pde import pde_learning, pdes, solvers

BURGERS = pdes.get("Burgers")
SEED = 0
MAX_ANGLE_DEG = 1.0  # measured 0.40 (seeds 1, 2: 0.32, 0.25); below the boost-to-d_u angle of 1.8
MIN_INDEPENDENCE = 0.5  # pde_learning.acceptance's bound; measured 0.992 trained, 0.051 with ortho off

# quick's learner settings, smaller: the field, the run's length and the flow (one RK4 step, read
# at s only); the loss weights, Lipschitz bound, inner product and derivatives stay quick's.
LEARN = profiles.resolved(
    "quick",
    "pde_symmetries",
    {
        "learn": {
            "n_generators": 3,
            "width": 16,
            "head_width": 8,
            "batch": 1,
            "iterations": 300,
            "lr": 5e-3,
            "sym_warmup": 20,
            "steps": 1,
            "times": None,
            "n_inner": 512,
            "checkpoint_every": 0,
            "log_every": 0,
        }
    },
)["learn"]

# The loss weights of each run: the paper's, and each with one term switched off.
VARIANTS = {"full loss": {}, "ortho off": {"ortho": 0.0}, "sym off": {"sym": 0.0}}


def graphs(split: str, n: int = 4, nx: int = 32) -> torch.Tensor:
    """Exact Burgers solutions of the `split`'s seed as the learner's normalised graphs (n, 140, nx, 3)."""
    seed = profiles.get("quick", "pde_data")["seeds"][split]
    return pde_learning.graphs_of(BURGERS, solvers.generate(BURGERS, split, n_samples=n, nx=nx, seed=seed))


@functools.cache
def evaluation_inner() -> generators.InnerProduct:
    return pde_learning.evaluation_inner(graphs("test"), 4096)


@functools.cache
def trained(variant: str) -> pde_learning.GeneratorField:
    params = {**LEARN, "weights": {**LEARN["weights"], **VARIANTS[variant]}}
    field, history = pde_learning.train(BURGERS, graphs("train"), params, None, seed=SEED, log=None)
    assert len(history) == LEARN["iterations"] and history.loss.notna().all()
    return field


def span_measures(field) -> tuple[float, float]:
    """(largest principal angle in degrees between span(V1..V3) and the exact symmetries' span,
    independence of V1..V3), under the evaluation inner product."""
    inner = evaluation_inner()
    with torch.no_grad():
        learned = pde_learning.double(field)(inner.points)[..., :3]
    known = BURGERS.known_fields()(inner.points)  # d_x, d_t, t d_x + d_u
    angle = float(torch.rad2deg(metrics.principal_angles(learned, known, inner)).max())
    return angle, pde_learning.independence(field, inner)


def reaches_the_symmetries(angle: float, independent: float) -> bool:
    return angle <= MAX_ANGLE_DEG and independent >= MIN_INDEPENDENCE


def test_the_angle_bound_tells_the_boost_from_the_u_shift():
    """The exact symmetries themselves are at angle 0; d_x, d_t and the control d_u (the boost
    without its t d_x part) are 1.8 degrees away, above the bound."""
    exact = generators.FunctionField(BURGERS.known_fields(), 3, 3)
    symmetries = {s.name: BURGERS.normalised_field(s) for s in BURGERS.symmetries}
    u_shift = generators.FunctionField(
        lambda z: torch.stack(
            [symmetries[name](z) for name in ("x-translation d_x", "t-translation d_t", "u-shift d_u")], -1
        ),
        3,
        3,
    )
    angle, independent = span_measures(exact)
    assert angle < 1e-6 and reaches_the_symmetries(angle, independent)
    angle, independent = span_measures(u_shift)
    assert angle > 1.5 * MAX_ANGLE_DEG and not reaches_the_symmetries(angle, independent), angle


def test_the_untrained_field_does_not_reach_the_symmetries():
    angle, independent = span_measures(pde_learning.new_field(LEARN, SEED))
    assert angle > 5 * MAX_ANGLE_DEG, angle  # measured 11.9
    assert not reaches_the_symmetries(angle, independent)


@pytest.mark.parametrize(("variant", "reached"), [("full loss", True), ("ortho off", False), ("sym off", False)])
def test_learning_reaches_the_symmetries_only_with_both_loss_terms(variant, reached, one_thread):
    angle, independent = span_measures(trained(variant))
    assert reaches_the_symmetries(angle, independent) is reached, (variant, angle, independent)
    if variant == "ortho off":  # the generators collapse: measured independence 0.051 (angle 0.43)
        assert independent < 0.2, independent
    if variant == "sym off":  # nothing pulls them to the symmetries: measured 28.8 degrees
        assert angle > 5 * MAX_ANGLE_DEG, angle
