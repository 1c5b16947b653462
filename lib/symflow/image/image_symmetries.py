"""Learning and testing symmetries of images: fields on the pixel square [-1, 1]^2 whose flows
leave a frozen feature extractor's features (`symflow.image.images`) unchanged.

    pixel_weights(h, x)             the data-driven weight w(p) of the image inner product
    image_inner_product(w, H, W)    the weighted inner product on the pixel grid
    validity(h, x, field, s)        mean arccos feature distance per generator at end time s
    learn_symmetries(...)           the paper's objective (validity + orthonormality + Lipschitz)
                                    on the shared loop `symflow.learning`
    affine_motions, closest_motion  the six named affine motions and the nearest one to a field
    control_fields                  smooth non-affine non-symmetries
    liegg(h, x, inner)              LieGG's most invariant affine combinations
    linear_combination(coefs)       fixed combinations of a basis (the affine fields by default)
    shared_inputs(data, params, folder)  the extractor, w(p), LieGG and baselines, made once per folder
    acceptance_checks(table, baselines)  the experiment's pass/fail checks on one seed
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch.nn import functional as F

from .. import flows, generators, io, losses, metrics
from .. import learning as training_loop  # `learn_symmetries` names its settings `learning`
from . import images

# ----------------------------------------------------------------------------------------------
# The data-driven inner product


def image_gradient(x: torch.Tensor) -> torch.Tensor:
    """x (B, C, H, W) -> (B, 2, C, H, W): d/dx (columns) and d/dy (rows) in grid units ([-1, 1]^2),
    central differences inside, one-sided at the border."""
    h, w = x.shape[-2:]
    dy, dx = torch.gradient(x, spacing=(2.0 / (h - 1), 2.0 / (w - 1)), dim=(2, 3))
    return torch.stack([dx, dy], dim=1)


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """2-D Gaussian bump exp(-r^2 / (2 sigma^2)) in pixels, peak 1, radius ceil(3 sigma): (1, 1, k, k)."""
    if sigma <= 0:
        raise ValueError(f"sigma must be positive; got {sigma}")
    r = math.ceil(3 * sigma)
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    return (g[:, None] * g[None, :])[None, None]


def pixel_weights(
    features, x: torch.Tensor, n_projections: int = 8, bump_sigma: float = 1.0, batch_size: int = 100, seed: int = 0
) -> torch.Tensor:
    """The weight w(p) of the image inner product: how strongly the features react to moving the
    image content near pixel p.

    Moving content by eps along direction e_d inside a Gaussian bump g_p around p changes the image
    by t_{p,d} = -g_p * d_d f, and the features by J_h(f) t_{p,d}. Then
        w(p) = E_f sum_d |J_h(f) t_{p,d}|^2 = E_f E_r sum_d (r . J_h(f) t_{p,d})^2,   r ~ N(0, I_F),
    and r . J_h t_{p,d} = sum_q g(q - p) sum_c grad_f(r . h)_c(q) d_d f_c(q) is a convolution of
    a vector-Jacobian product with the bump: one backward pass per random projection r serves all
    pixels. Returns w (H*W,) in `grid_points` order, normalised to mean 1.
    """
    c, h, w = x.shape[1:]
    gen = torch.Generator().manual_seed(seed)
    kernel = gaussian_kernel(bump_sigma).to(x)
    total = torch.zeros(h, w, dtype=x.dtype, device=x.device)
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].clone().requires_grad_(True)
        hb = images.checked_features(features(xb))
        grad_img = image_gradient(xb.detach())  # (B, 2, C, H, W)
        for _ in range(n_projections):
            r = torch.randn(hb.shape, generator=gen, dtype=hb.dtype).to(hb.device)
            (vjp,) = torch.autograd.grad(hb, xb, r, retain_graph=True)  # (B, C, H, W)
            a = (vjp[:, None] * grad_img).sum(dim=2)  # (B, 2, H, W)
            conv = F.conv2d(a.reshape(-1, 1, h, w), kernel, padding=kernel.shape[-1] // 2)
            total += conv.pow(2).reshape(-1, h, w).sum(dim=0)
    weight = total.reshape(-1)
    return weight / weight.mean()


def image_inner_product(weights: torch.Tensor, height: int, width: int) -> generators.InnerProduct:
    """The weighted grid inner product <V, W> = sum_p w(p) V(p).W(p) / sum_p w(p)."""
    return generators.InnerProduct(generators.grid_points(height, width, weights.dtype).to(weights.device), weights)


# ----------------------------------------------------------------------------------------------
# Validity and learning


def validity(
    features, x: torch.Tensor, field: generators.Field, s: float, steps: int = 20, batch_size: int = 250
) -> torch.Tensor:
    """Per-generator validity at end time s: mean over images of arccos cos_sim(h(f), h(T_s^a f)).

    Returns (N,) in radians (0: features unchanged); the mean over images of `validity_per_image`.
    """
    return validity_per_image(features, x, field, s, steps, batch_size).double().mean(dim=1).float()


def validity_per_image(
    features, x: torch.Tensor, field: generators.Field, s: float, steps: int = 20, batch_size: int = 250
) -> torch.Tensor:
    """(N, B) float32: the angle arccos cos_sim(h(f_i), h(T_s^a f_i)) in radians of every
    generator a and image i of x (B, C, H, W), moved for time s with `steps` RK4 steps."""
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size]
            h0 = images.checked_features(features(xb))
            warped = flows.warp_images(xb, field, s, steps)  # (N, B, C, H, W)
            h1 = images.checked_features(features(warped.flatten(0, 1))).reshape(field.n_generators, len(xb), -1)
            out.append(losses.feature_angles(h0.expand_as(h1), h1, limit=1.0).float().cpu())
    return torch.cat(out, dim=1)


@dataclass(frozen=True)
class ImageLearning:
    """How `learn_symmetries` learns: `iterations` Adam steps at `lr` on batches of `batch_size`
    images, flow times s_a ~ U(-sigma, sigma) with `steps` RK4 steps, the loss weights `w_sym`,
    `w_ortho`, `w_lip`, the Lipschitz bound `tau`, the gradient clipped to norm `clip` (None: not
    clipped) and `ortho_mode` of `losses.orthonormality`.

    iterations, batch_size, steps: positive integers; lr, sigma: positive numbers; w_sym, w_ortho,
    w_lip, tau >= 0; clip: None or positive; ortho_mode: one of `losses.ORTHO_MODES`. A value
    outside these is a ValueError naming the field and what it accepts.
    """

    iterations: int
    batch_size: int = 128
    lr: float = 1e-4
    sigma: float = 0.4
    steps: int = 20
    w_sym: float = 1.0
    w_ortho: float = 10.0
    w_lip: float = 10.0
    tau: float = 0.5
    clip: float | None = None
    ortho_mode: str = "pairwise"

    # the fields a settings dict may leave out (`from_settings`; notebook 04's `learn` block has no
    # w_sym); every other one it must hold
    OPTIONAL = ("w_sym",)

    def __post_init__(self):
        training_loop.check_settings(
            self,
            integers=("iterations", "batch_size", "steps"),
            positive=("lr", "sigma"),
            non_negative=("w_sym", "w_ortho", "w_lip", "tau"),
        )
        if self.clip is not None:
            training_loop.check_settings(self, positive=("clip",))
        if self.ortho_mode not in losses.ORTHO_MODES:
            raise ValueError(f"ImageLearning: ortho_mode must be one of {losses.ORTHO_MODES}; got {self.ortho_mode!r}")

    @classmethod
    def from_settings(cls, settings: Mapping) -> ImageLearning:
        """The fields read from a settings dict that may hold other keys too (notebook 04's
        `learn` block, which also holds n_generators); `w_sym` may be absent (its default).
        Missing keys are a KeyError naming them and listing the keys needed."""
        return training_loop.settings_from(cls, settings, cls.OPTIONAL)


def learn_symmetries(
    features,
    x: torch.Tensor,
    field: generators.GeneratorField,
    inner: generators.InnerProduct,
    learning: ImageLearning,
    seed: int = 0,
    log_every: int = 10,
    log=print,
    checkpoint=None,
    checkpoint_every: int = 0,
    callback=None,
    callback_every: int = 0,
) -> pd.DataFrame:
    """Train `field` (in place) so that its normalised generators are symmetries of `features`,
    with the settings `learning` (their names below; not an ImageLearning: a TypeError).

    Each iteration: a batch of `batch_size` images; for every generator a, s_a ~ U(-sigma, sigma); images
    warped along normalised V_a by s_a with `steps` RK4 steps (step sigma/steps at most);
        loss = w_sym sum_a S_a + w_ortho L_ortho(V, inner) + w_lip L_lip(V on the pixel grid, tau)
    (L_ortho: `losses.orthonormality` in `ortho_mode`)
    with S_a = losses.feature_validity, L_lip on pixel neighbours (not divided by distance).
    The loop (`iterations` steps of Adam(lr), the gradient clipped to norm `clip` (None: not
    clipped), checkpoint and resume, the NaN guard, the log) is `symflow.learning.learn`, as for
    the PDE learner; the checkpoint's identity holds the fields of `learning`; images holding
    NaN or inf are a ValueError before any iteration. Returns its
    history: iteration (from 0), loss, lr, S1..SN, validity (sum of the S_a), ortho, lipschitz,
    grad_norm (before clipping), seconds. callback(iterations_done, field), after every
    `callback_every` iterations: as in `symflow.learning.learn` (e.g. `LearningCurve`).
    """
    if not isinstance(learning, ImageLearning):
        raise TypeError(f"learning must be an ImageLearning; got {type(learning).__name__}")
    c, h, w = x.shape[1:]
    if inner.points.shape[0] != h * w:
        raise ValueError(f"inner must be defined on the {h}x{w} pixel grid; got {inner.points.shape[0]} points")
    training_loop.check_finite(x, "the training images x")
    n_gen = field.n_generators

    def step(it: int, gen: torch.Generator):
        idx = torch.randint(len(x), (learning.batch_size,), generator=gen).to(x.device)
        s = ((2 * torch.rand(n_gen, generator=gen) - 1) * learning.sigma).to(x)
        xb = x[idx]
        with torch.no_grad():
            h0 = images.checked_features(features(xb))
        at_grid = field(inner.points)  # (H*W, 2, N): once per iteration
        normed = generators.normalise(field, inner, at_points=at_grid)
        warped = flows.warp_images(xb, normed, s, learning.steps)
        h1 = images.checked_features(features(warped.flatten(0, 1))).reshape(n_gen, learning.batch_size, -1)
        per_gen = torch.stack([losses.feature_validity(h0, h1[a]) for a in range(n_gen)])
        V = at_grid * normed.scale
        ortho = losses.orthonormality(V, inner, learning.ortho_mode)
        lip = losses.lipschitz(V.reshape(h, w, 2, -1), learning.tau)
        loss = learning.w_sym * per_gen.sum() + learning.w_ortho * ortho + learning.w_lip * lip
        return loss, {
            **{f"S{a + 1}": float(v) for a, v in enumerate(per_gen.detach())},
            "validity": float(per_gen.sum().detach()),
            "ortho": float(ortho.detach()),
            "lipschitz": float(lip.detach()),
        }

    settings = {**dataclasses.asdict(learning), "n_images": len(x), "image_shape": [c, h, w], "n_generators": n_gen}
    schedule = training_loop.Schedule(learning.iterations, learning.lr, 1.0, learning.clip, log_every, checkpoint_every)
    return training_loop.learn(
        field,
        step,
        schedule,
        {"settings": settings, "seed": seed},
        seed,
        checkpoint,
        f"images seed {seed}",
        log,
        callback,
        callback_every,
    )


# ----------------------------------------------------------------------------------------------
# Reading fields: affine content, named motions, controls, LieGG


MOTIONS = ["translation x", "translation y", "rotation", "scaling", "stretch (x, -y)", "shear (y, x)"]


def _motions(z: torch.Tensor) -> torch.Tensor:
    x, y = z[:, 0], z[:, 1]
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    cols = [(one, zero), (zero, one), (-y, x), (x, y), (x, -y), (y, x)]
    return torch.stack([torch.stack(c, dim=-1) for c in cols], dim=-1)


def affine_motions() -> generators.FunctionField:
    """The 6 affine fields as named motions: translations x, y, rotation (-y, x), scaling (x, y),
    stretch (x, -y), shear (y, x). Same span as `generators.affine_fields()`."""
    return generators.FunctionField(_motions, 6, 2, MOTIONS)


def closest_motion(V: torch.Tensor, inner: generators.InnerProduct) -> list[tuple[str, float]]:
    """For each field in V (n, 2, N): the named motion with the largest |cosine| under `inner`."""
    cos = metrics.cosine_matrix(affine_motions()(inner.points), V, inner)  # (6, N)
    best = cos.abs().argmax(dim=0)
    return [(MOTIONS[int(k)], float(cos[k, a])) for a, k in enumerate(best)]


CONTROL_NAMES = ["swirl", "sinusoidal warp", "radial bulge"]


def _controls(z: torch.Tensor) -> torch.Tensor:
    x, y = z[:, 0], z[:, 1]
    r2 = x**2 + y**2
    swirl = torch.exp(-2 * r2)[:, None] * torch.stack([-y, x], dim=-1)
    wave = torch.stack([torch.sin(math.pi * y), torch.sin(math.pi * x)], dim=-1)
    bulge = (1 - r2).clamp_min(0)[:, None] * torch.stack([x, y], dim=-1)
    return torch.stack([swirl, wave, bulge], dim=-1)


def control_fields() -> generators.FunctionField:
    """Smooth non-affine fields used as non-symmetry controls: a Gaussian-damped swirl
    exp(-2 r^2)(-y, x), a sinusoidal warp (sin pi y, sin pi x), a radial bulge (1 - r^2)_+ (x, y)."""
    return generators.FunctionField(_controls, 3, 2, CONTROL_NAMES)


def liegg(features, x: torch.Tensor, inner: generators.InnerProduct, batch_size: int = 100):
    """LieGG (Moskalev et al. 2022) restricted to the affine fields, on a feature extractor.

    For an image f and an affine field A_k, moving the content along A_k changes f by
    t_k = -grad f . A_k (per pixel), and the normalised features u = h / |h| by
    P_k(f) = (I - u u^T) J_h(f) t_k / |h| (forward-mode JVP). The polarisation matrix stacks
    P(f) (F x 6) over images; with G the Gram matrix of the A_k under `inner` and
    G = L L^T, the right singular vectors of P L^-T give fields V = sum_k c_k A_k, orthonormal
    under `inner`, ordered from most to least invariant (smallest singular value first).

    Returns (coefficients (6, 6): column a holds c for field a, singular values (6,)).
    """
    c, h, w = x.shape[1:]
    A = generators.affine_fields()(inner.points)  # (H*W, 2, 6)
    fields = A.permute(2, 1, 0).reshape(6, 2, 1, h, w)  # (6, 2, 1, H, W)
    gram = torch.zeros(6, 6, dtype=torch.float64, device=x.device)
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size]
        grad = image_gradient(xb)  # (B, 2, C, H, W)
        with torch.no_grad():
            hb = images.checked_features(features(xb))
        u = hb / hb.norm(dim=1, keepdim=True)
        cols = []
        for k in range(6):
            t = -(grad * fields[k]).sum(dim=1)  # (B, C, H, W)
            _, jt = torch.func.jvp(features, (xb,), (t,))
            jt = jt - (jt * u).sum(dim=1, keepdim=True) * u
            cols.append(jt / hb.norm(dim=1, keepdim=True))
        P = torch.stack(cols, dim=-1).reshape(-1, 6).double()  # (B*F, 6)
        gram += P.T @ P
    Linv = generators.orthonormal_coefficients(inner.gram(A, A), "the affine fields").T.to(x.device)
    evals, evecs = torch.linalg.eigh(Linv @ gram @ Linv.T)  # ascending: most invariant first
    coefs = Linv.T @ evecs
    return coefs.float().cpu(), evals.clamp_min(0).sqrt().float().cpu()


def linear_combination(
    coefs: torch.Tensor, basis: generators.Field | None = None, names: list[str] | None = None
) -> generators.FunctionField:
    """The fixed fields V_a = sum_k coefs[k, a] basis_k (basis: the affine fields by default)."""
    basis = basis if basis is not None else generators.affine_fields()
    if coefs.ndim != 2 or coefs.shape[0] != basis.n_generators:
        raise ValueError(f"coefs must have shape ({basis.n_generators}, N); got {tuple(coefs.shape)}")
    coefs = coefs.detach()
    return generators.FunctionField(lambda z: basis(z) @ coefs.to(z), coefs.shape[1], basis.dim, names)


# ----------------------------------------------------------------------------------------------
# Learned against untrained: measures that can tell them apart (docs/decisions.md D23)


def nonaffine_start(field: generators.GeneratorField, scale: float) -> generators.GeneratorField:
    """`field` (in place, and returned) with the weights and bias of its first layer multiplied
    by `scale`: the same network, initialised at a larger scale. The SiLU units then bend
    inside the image (at scale 1 they are almost linear on [-1, 1]^2, so the untrained fields
    are almost affine), and the untrained span lies far from aff(2). A scale that is not a
    positive number is a ValueError."""
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not scale > 0:
        raise ValueError(f"scale must be a positive number; got {scale!r}")
    first = field.trunk[0]
    with torch.no_grad():
        first.weight.mul_(scale)
        first.bias.mul_(scale)
    return field


def aff2_angles(field: generators.Field, inner: generators.InnerProduct, n_span: int = 6) -> torch.Tensor:
    """(n_span,) principal angles in degrees, ascending, between span(V_1..V_n_span) of `field`
    and aff(2), the span of the six affine fields, under `inner` (0: inside aff(2); the largest
    is the distance of the whole span from aff(2))."""
    with torch.no_grad():
        V = field(inner.points)[..., :n_span]
        A = generators.affine_fields()(inner.points)
    return metrics.principal_angles(V, A, inner) * (180.0 / math.pi)


def signal_map(x: torch.Tensor) -> torch.Tensor:
    """(H, W) mean over the images x (B, C, H, W) of |grad f(p)|^2 (summed over channels): how much
    an image changes when its content near p moves. Zero where every image is flat."""
    return image_gradient(x).pow(2).sum(dim=(1, 2)).mean(dim=0)


def no_signal_share(values: torch.Tensor, signal: torch.Tensor, threshold: float = 0.01) -> tuple[torch.Tensor, float]:
    """The share of each field's squared norm (plain sum over pixels, not the weighted inner
    product) on the pixels where the data have almost no signal: signal(p) < threshold x its
    maximum (`signal_map`; any non-negative (H, W) map, e.g. the pixel weight w(p): where the
    features do not react). values (H*W, 2, N) in `grid_points` order. Returns ((N,) shares in
    [0, 1], the share of pixels that are such pixels: what a field of the same size everywhere
    would score). Moving content there changes no image (or no feature), so a large share is
    validity for free."""
    mask = (signal.reshape(-1) < threshold * signal.max()).to(values.dtype)
    energy = values.detach().pow(2).sum(dim=1)  # (H*W, N)
    return (mask @ energy) / energy.sum(dim=0).clamp_min(1e-30), float(mask.mean())


class LearningCurve:
    """A `learn_symmetries` callback that records, every time it is called, the validity of
    every generator at time s on fixed images (`validity`), after the orthonormalisation the
    evaluation uses (`generators.orthonormalise`: untrained heads are nearly parallel, and
    merely normalised they would all score like their common translation), and the principal angles
    between span(V_1..V_n_span) and aff(2) (`aff2_angles`). `rows`: iteration, field, validity
    (one row per generator, field "V<a>") and iteration, field "span", index, angle_deg; `table()`
    returns them as a DataFrame. `record(0, field)` before training gives the starting point."""

    def __init__(self, features, x, inner, s: float, steps: int, n_span: int = 6, log=None):
        self.features, self.x, self.inner, self.s, self.steps, self.n_span = features, x, inner, s, steps, n_span
        self.rows, self.log = [], log

    def record(self, iteration: int, field) -> None:
        normed = generators.orthonormalise(generators.normalise(field, self.inner), self.inner)
        v = validity(self.features, self.x, normed, self.s, self.steps)
        angles = aff2_angles(normed, self.inner, self.n_span)
        self.rows += [{"iteration": iteration, "field": f"V{a + 1}", "validity": float(x)} for a, x in enumerate(v)]
        self.rows += [
            {"iteration": iteration, "field": "span", "index": k + 1, "angle_deg": float(a)}
            for k, a in enumerate(angles)
        ]
        if self.log:
            self.log(
                f"curve it {iteration}: validity V1-V{self.n_span} {float(v[: self.n_span].mean()):.4f} rad, "
                f"largest angle to aff(2) {float(angles.max()):.1f} deg"
            )

    def __call__(self, iteration: int, field) -> None:
        self.record(iteration, field)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["iteration", "field", "validity", "index", "angle_deg"])


COMPARISON_COLUMNS = ["seed", "field", "comparison", "difference", "ci_low", "ci_high"]


def validity_comparison(
    per_image: Mapping[str, torch.Tensor],
    seed: int,
    n_first: int = 6,
    n_boot: int = 2000,
    level: float = 0.95,
) -> pd.DataFrame:
    """Paired differences of validity, per test image, with percentile-bootstrap intervals over the
    test images (`metrics.bootstrap_ci` of the per-image differences; the same images for both).

    per_image: {"learned": (N, B), "untrained": (N, B), "affine": (6, B)} from `validity_per_image`
    on the same B test images (learned and untrained after the same orthonormalisation; affine:
    the six normalised affine fields). Rows, in order: for field a = 1..N, "learned - untrained"
    (field a against untrained field a) and "learned - affine" (field a against the mean of the
    six affine fields on the same image); then field "1-<n_first>": the mean of fields
    1..n_first against the same mean of the untrained fields, and against the affine mean.
    Columns `COMPARISON_COLUMNS` plus learned, reference (the two means) and excludes_zero.
    Negative: the learned fields change the features less.
    """
    learned, untrained, affine = (per_image[k].double() for k in ("learned", "untrained", "affine"))
    if learned.shape != untrained.shape or affine.shape[1:] != learned.shape[1:]:
        raise ValueError(
            f"learned and untrained must be (N, B) and affine (6, B) on the same B images; got "
            f"{tuple(learned.shape)}, {tuple(untrained.shape)}, {tuple(affine.shape)}"
        )
    affine_mean = affine.mean(dim=0)
    first = slice(0, n_first)
    pairs = []
    for a in range(learned.shape[0]):
        pairs += [(str(a + 1), "learned - untrained", learned[a], untrained[a])]
        pairs += [(str(a + 1), "learned - affine", learned[a], affine_mean)]
    label = f"1-{n_first}"
    pairs += [(label, "learned - untrained", learned[first].mean(0), untrained[first].mean(0))]
    pairs += [(label, "learned - affine", learned[first].mean(0), affine_mean)]
    rows = []
    for field, comparison, t, b in pairs:
        difference, low, high = metrics.bootstrap_ci((t - b).numpy(), n_boot, level, seed=0)
        rows.append(
            {
                "seed": seed,
                "field": field,
                "comparison": comparison,
                "difference": difference,
                "ci_low": low,
                "ci_high": high,
                "learned": float(t.mean()),
                "reference": float(b.mean()),
                "excludes_zero": bool(low > 0 or high < 0),
            }
        )
    return pd.DataFrame(rows)


ANGLE_KINDS = ("learned", "untrained", "non-affine start", "learned from non-affine start")


# ----------------------------------------------------------------------------------------------
# The inputs every run of notebook 04 shares, made once


SHARED_FILES = (
    "feature_extractor.pt",
    "feature_extractor.json",
    "pixel_weight.nc",
    "liegg.nc",
    "validity_baselines.csv",
    "settings.json",
)


@dataclass
class SharedInputs:
    """What every seed's run of notebook 04 shares: the frozen feature extractor, the pixel
    weight w(p) (H*W,) and its inner product, LieGG's coefficients (6, 6) and singular values
    (6,), the validity of the affine, control and LieGG fields (`validity_baselines`), and
    whether this call produced them (False: read from `folder`)."""

    model: torch.nn.Module
    features: object
    weight: torch.Tensor
    inner: generators.InnerProduct
    extractor: dict
    liegg_coefs: torch.Tensor
    liegg_singular: torch.Tensor
    baselines: pd.DataFrame
    folder: Path
    produced: bool


def shared_inputs(data: images.ImageData, params: dict, folder, device="cpu", log=print) -> SharedInputs:
    """The shared inputs for `params` (notebook 04's settings: extractor, weights, evaluate), read
    from `folder` when a previous run made them with the same settings and data, else made and
    written there (each file atomically, `settings.json` last).

    One process at a time holds `folder/.lock` (`io.exclusive`), so parallel runs of several seeds
    make the inputs once and every other run reads them; nothing else writes into `folder`.
    """
    folder = Path(folder)
    settings = json.loads(
        json.dumps(
            {
                "dataset": data.name,
                "n_train": len(data.train_x),
                **{k: params[k] for k in ("extractor", "weights", "evaluate")},
            }
        )
    )
    with io.exclusive(folder / ".lock", log=log):
        record = folder / "settings.json"
        if all((folder / f).is_file() for f in SHARED_FILES) and json.loads(record.read_text()) == settings:
            log(f"shared inputs read from {folder}")
            return _read_shared(folder, data, device)
        log(f"shared inputs made in {folder}")
        made = _make_shared(data, params, folder, device, log)
        io.write_json(record, settings)
        return made


def _make_shared(data, params, folder, device, log) -> SharedInputs:
    ex, wp, E = params["extractor"], params["weights"], params["evaluate"]
    torch.manual_seed(0)
    model = images.make_classifier(ex["arch"], data, ex["width"]).to(device)
    tic = time.time()
    images.train_classifier(
        model, data.train_x, data.train_y, images.ClassifierTraining.from_settings(ex), seed=0, log=log
    )
    extractor = {
        "arch": ex["arch"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "dataset": data.name,
        "n_train": len(data.train_x),
        "test_accuracy": images.accuracy(model, data.test_x, data.test_y),
        "train_seconds": round(time.time() - tic, 1),
    }
    images.save_classifier(
        model, folder / "feature_extractor.pt", test_accuracy=extractor["test_accuracy"], dataset=data.name
    )
    io.write_json(folder / "feature_extractor.json", extractor)
    features = images.frozen_features(model)
    h, w = data.shape[1:]
    weight = pixel_weights(features, data.train_x[: wp["n_images"]], wp["n_projections"], wp["bump_sigma"], seed=0)
    io.write_netcdf(
        xr.Dataset(
            {"weight": (("row", "col"), weight.reshape(h, w).cpu().numpy())},
            coords={"row": np.arange(h), "col": np.arange(w)},
            attrs={"description": "w(p) of the image inner product, mean 1", **wp},
        ),
        folder / "pixel_weight.nc",
    )
    inner = image_inner_product(weight, h, w)
    coefs, singular = liegg(features, data.test_x[: E["liegg_images"]], inner)
    io.write_netcdf(
        xr.Dataset(
            {"coefficients": (("affine", "field"), coefs.numpy()), "singular_value": (("field",), singular.numpy())},
            attrs={"description": "LieGG: column a holds field a's affine coefficients"},
        ),
        folder / "liegg.nc",
    )
    baselines = validity_baselines(features, data.test_x[: E["n_eval"]], inner, coefs, E["s"], E["steps"])
    with io.atomic_path(folder / "validity_baselines.csv") as tmp:
        baselines.to_csv(tmp, index=False)
    return SharedInputs(model, features, weight, inner, extractor, coefs, singular, baselines, folder, True)


def load_pixel_weight(path) -> torch.Tensor:
    """w(p) as written by `shared_inputs` (pixel_weight.nc): float32 (H, W); `.reshape(-1)` is in
    `grid_points` order."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run notebook 04_image_symmetries (it makes the pixel weight)")
    with xr.open_dataset(io.note_input(path), engine="h5netcdf") as ds:
        return torch.as_tensor(ds.weight.values, dtype=torch.float32)


def _read_shared(folder, data, device) -> SharedInputs:
    model = images.load_classifier(folder / "feature_extractor.pt").to(device)
    weight = load_pixel_weight(folder / "pixel_weight.nc").reshape(-1).to(device)
    for name in ("feature_extractor.json", "validity_baselines.csv", "settings.json"):
        io.note_input(folder / name)
    with xr.open_dataset(io.note_input(folder / "liegg.nc"), engine="h5netcdf") as ds:
        coefs = torch.as_tensor(ds.coefficients.values)
        singular = torch.as_tensor(ds.singular_value.values)
    h, w = data.shape[1:]
    return SharedInputs(
        model,
        images.frozen_features(model),
        weight,
        image_inner_product(weight, h, w),
        json.loads((folder / "feature_extractor.json").read_text()),
        coefs,
        singular,
        pd.read_csv(folder / "validity_baselines.csv"),
        folder,
        False,
    )


def baseline_fields(inner: generators.InnerProduct, liegg_coefs: torch.Tensor) -> list[tuple]:
    """(kind, field, names) of the reference fields: the six affine fields and the three
    controls, each normalised under `inner`, and LieGG's six orthonormal combinations."""
    liegg_fields = linear_combination(liegg_coefs, names=[f"LieGG {k + 1}" for k in range(6)])
    return [
        ("affine", generators.normalise(generators.affine_fields(), inner), generators.AFFINE_NAMES),
        ("control", generators.normalise(control_fields(), inner), CONTROL_NAMES),
        ("LieGG", liegg_fields, liegg_fields.names),
    ]


def validity_baselines(
    features, x: torch.Tensor, inner: generators.InnerProduct, liegg_coefs: torch.Tensor, s: float, steps: int
) -> pd.DataFrame:
    """`validity` at s of every reference field (`baseline_fields`): columns field, kind, validity."""
    rows = []
    for kind, field, names in baseline_fields(inner, liegg_coefs):
        v = validity(features, x, field, s, steps)
        rows += [{"field": n, "kind": kind, "validity": float(value)} for n, value in zip(names, v)]
    return pd.DataFrame(rows)


def acceptance_checks(table: pd.DataFrame, baselines: pd.DataFrame, n_symmetries: int = 6) -> dict:
    """The image experiment's checks on one seed's table (columns validity, validity_untrained,
    affine_fraction, one row per learned field in order): the mean validity of the first
    `n_symmetries` learned fields is below the affine fields', below the untrained fields' and
    below the remaining learned fields'. Returns the means and the three booleans."""
    first, rest = table.validity[:n_symmetries].mean(), table.validity[n_symmetries:].mean()
    checks = {
        "learned_first6_mean": first,
        "learned_7to10_mean": rest,
        "affine_mean": baselines.query("kind == 'affine'").validity.mean(),
        "untrained_first6_mean": table.validity_untrained[:n_symmetries].mean(),
        "liegg_mean": baselines.query("kind == 'LieGG'").validity.mean(),
        "control_mean": baselines.query("kind == 'control'").validity.mean(),
        "affine_fraction_7to10": table.affine_fraction[n_symmetries:].tolist(),
    }
    checks["first6_below_affine"] = bool(first < checks["affine_mean"])
    checks["first6_below_untrained"] = bool(first < checks["untrained_first6_mean"])
    checks["first6_below_7to10"] = bool(first < rest)
    return checks
