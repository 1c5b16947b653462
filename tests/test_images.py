"""Tests of symflow.image.images: data readers, feature extractors, the data-driven inner product,
validity, LieGG and augmentation, each against a known answer."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from conftest import write_cifar_archive
from symflow import flows, generators, learning, profiles
from symflow.image import image_augmentation, image_symmetries
from symflow.image import images as im

# ---------------------------------------------------------------------------------------- data


def test_mnist_split_is_stratified_and_fixed(tmp_path):
    cache = tmp_path / "mnist.nc"
    d = im.load_mnist(cache=cache)
    assert cache.exists()
    assert d.train_x.shape == (4000, 1, 28, 28) and d.test_x.shape == (1000, 1, 28, 28)
    assert torch.equal(torch.bincount(d.test_y), torch.full((10,), 100))
    assert float(d.train_x.min()) >= 0 and float(d.train_x.max()) <= 1
    again = im.load_mnist(cache=cache)  # read back from the cache: the same split
    assert torch.equal(again.test_x, d.test_x) and torch.equal(again.train_y, d.train_y)


def _tiny_cifar(rng):
    train = (rng.integers(0, 256, (10, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 10))
    test = (rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 4))
    return train, test


def test_cifar_archive_roundtrip(tmp_path):
    train, test = _tiny_cifar(np.random.default_rng(0))
    classes = [f"class{i}" for i in range(10)]
    write_cifar_archive(tmp_path / im.CIFAR10_ARCHIVE, train, test, classes)
    d = im.load_cifar10(tmp_path, md5=None)
    assert d.classes == classes and d.shape == (3, 32, 32)
    np.testing.assert_array_equal((d.train_x.numpy() * 255).round().astype(np.uint8), train[0])
    np.testing.assert_array_equal(d.test_y.numpy(), test[1])
    np.testing.assert_array_equal((d.test_x.numpy() * 255).round().astype(np.uint8), test[0])
    with pytest.raises(ValueError, match="MD5"):
        im.load_cifar10(tmp_path)  # the official checksum does not match the test archive


def test_cifar_extracted_folder(tmp_path):
    import tarfile

    train, test = _tiny_cifar(np.random.default_rng(1))
    archive = write_cifar_archive(tmp_path / "a.tar.gz", train, test, [str(i) for i in range(10)])
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path, filter="data")
    d = im.load_cifar10(tmp_path)  # the folder takes precedence; no checksum to check
    np.testing.assert_array_equal(d.train_y.numpy(), train[1])


def test_cifar_missing_says_where(tmp_path):
    with pytest.raises(FileNotFoundError, match="cs.toronto.edu") as err:
        im.load_cifar10(tmp_path)
    assert str(tmp_path) in str(err.value)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="dataset must be one of"):
        im.load_dataset("svhn")


# ----------------------------------------------------------------------------- feature extractors


def test_extractors_shapes_and_channel_check():
    cnn = im.SmallCNN(in_channels=1, image_size=28, width=4).eval()
    assert cnn.features(torch.rand(2, 1, 28, 28)).shape == (2, 16)
    assert cnn(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    net = im.ResNet18(in_channels=3, image_size=32, width=4).eval()
    assert net.features(torch.rand(2, 3, 32, 32)).shape == (2, 32)
    with pytest.raises(ValueError, match="channels 1"):
        cnn.features(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        net(torch.rand(3, 32, 32))


def test_training_separates_an_easy_task_and_roundtrips(tmp_path):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 12, 12, generator=gen) * 0.2
    y = torch.arange(64) % 2
    x[y == 1, :, :6] += 0.8  # class 1: bright upper half
    model = im.SmallCNN(1, 2, 12, width=4)
    history = im.train_classifier(model, x, y, im.ClassifierTraining(epochs=8, batch_size=16, lr=0.05), log=None)
    assert list(history.epoch) == list(range(8)) and {"loss", "lr", "seconds"} <= set(history.columns)
    assert history.loss.iloc[-1] < history.loss.iloc[0] and history.lr.iloc[0] == 0.05
    assert im.accuracy(model, x, y) == 1.0
    path = im.save_classifier(model, tmp_path / "m.pt", test_accuracy=1.0)
    loaded = im.load_classifier(path)
    assert loaded.metadata["test_accuracy"] == 1.0
    torch.testing.assert_close(loaded(x), model(x))
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        im.load_classifier(tmp_path / "missing.pt")


class _Interrupt(Exception):
    pass


def _train_toy(checkpoint=None, identity=None, stop_after=None):
    """Four epochs of a tiny classifier with a random augmentation; `stop_after` k: interrupted
    by raising from `log` after the k-th epoch."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(48, 1, 8, 8, generator=gen), torch.arange(48) % 3
    torch.manual_seed(1)
    model = im.SmallCNN(1, 3, 8, width=2)

    def augment(images, g):
        return torch.roll(images, int(torch.randint(-1, 2, (), generator=g)), -1)

    def log(line):
        if stop_after is not None and line.startswith(f"epoch {stop_after}/"):
            raise _Interrupt

    history = im.train_classifier(
        model, x, y, im.ClassifierTraining(4, 16, 0.05, milestones=(0.5,)), augment=augment, seed=2, log=log,
        checkpoint=checkpoint, identity=identity,
    )  # fmt: skip
    return model, history


def test_classifier_training_resumes_from_its_checkpoint_bit_identically(tmp_path):
    """Interrupted after an epoch and rerun, training ends with exactly the weights (batch-norm
    statistics included) and history (seconds aside) of an uninterrupted run, which
    checkpointing itself does not change."""
    plain, expected = _train_toy()
    ckpt = tmp_path / "classifier.pt"
    for k in (None, 1, 3):
        if k is not None:
            with pytest.raises(_Interrupt):
                _train_toy(ckpt, {"data": "toy"}, stop_after=k)
        model, history = _train_toy(ckpt, {"data": "toy"})
        assert all(torch.equal(model.state_dict()[name], v) for name, v in plain.state_dict().items())
        assert history.drop(columns="seconds").equals(expected.drop(columns="seconds"))
        ckpt.unlink()


def test_classifier_training_refuses_another_runs_or_a_damaged_checkpoint_naming_it(tmp_path):
    ckpt = tmp_path / "classifier.pt"
    with pytest.raises(_Interrupt):
        _train_toy(ckpt, {"data": "toy"}, stop_after=1)
    with pytest.raises(ValueError, match="belongs to another run") as err:
        _train_toy(ckpt, {"data": "other"})
    assert str(ckpt) in str(err.value)
    ckpt.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ValueError, match="cannot be read.*damaged") as err:
        _train_toy(ckpt, {"data": "toy"})
    assert str(ckpt) in str(err.value)


def test_nan_features_are_reported():
    model = im.SmallCNN(1, 10, 8, width=2)
    with pytest.raises(ValueError, match="NaN"):
        image_symmetries.pixel_weights(im.frozen_features(model), torch.full((2, 1, 8, 8), float("nan")))


# ------------------------------------------------------------------------------ inner product


def test_pixel_weights_of_a_one_pixel_feature():
    """h(f) = f(q) at one pixel q: J t_{p,d} = -g(q - p) d_d f(q), so w(p) is proportional to g(q - p)^2."""
    size, q, sigma = 15, (7, 5), 1.3
    features = lambda x: x[:, :, q[0], q[1]].reshape(len(x), 1)  # noqa: E731
    x = torch.rand(6, 1, size, size, generator=torch.Generator().manual_seed(0))
    w = image_symmetries.pixel_weights(features, x, n_projections=2, bump_sigma=sigma).reshape(size, size)
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    expected = torch.exp(-((rows - q[0]) ** 2 + (cols - q[1]) ** 2) / sigma**2)
    expected = torch.where(((rows - q[0]).abs() <= 4) & ((cols - q[1]).abs() <= 4), expected, 0.0)  # kernel radius
    torch.testing.assert_close(w / w.max(), expected / expected.max(), atol=1e-5, rtol=1e-4)


def test_closest_motion_names_each_motion():
    inner = image_symmetries.image_inner_product(torch.rand(64) + 0.5, 8, 8)
    names = image_symmetries.closest_motion(image_symmetries.affine_motions()(inner.points), inner)
    assert [n for n, _ in names] == image_symmetries.MOTIONS
    assert all(abs(c - 1) < 1e-5 for _, c in names)
    rotation_plus_noise = (
        image_symmetries.affine_motions()(inner.points)[..., 2:3]
        + 0.1 * image_symmetries.control_fields()(inner.points)[..., 1:2]
    )
    ((name, cos),) = image_symmetries.closest_motion(rotation_plus_noise, inner)
    assert name == "rotation" and 0.9 < cos < 1


def test_orthonormalise_works_in_order_on_image_fields():
    inner = image_symmetries.image_inner_product(torch.rand(64) + 0.5, 8, 8)
    A = generators.affine_fields()
    mixed = image_symmetries.linear_combination(torch.triu(torch.rand(6, 6)) + torch.eye(6), A)
    U = generators.orthonormalise(mixed, inner)(inner.points)
    torch.testing.assert_close(inner.gram(U, U), torch.eye(6), atol=1e-4, rtol=1e-4)
    # mixed's first field is a multiple of A_1, so U_1 is A_1 normalised
    a1 = A(inner.points)[..., :1]
    torch.testing.assert_close(U[..., :1], a1 / inner.norms(a1), atol=1e-5, rtol=1e-5)


# -------------------------------------------------------------------------------- validity


def _blobs(n, size=16, seed=0):
    """Gaussian blobs well inside the image."""
    gen = torch.Generator().manual_seed(seed)
    centres = (torch.rand(n, 2, generator=gen) - 0.5) * 0.6
    z = generators.grid_points(size, size)
    d2 = ((z[None] - centres[:, None]) ** 2).sum(-1)
    return torch.exp(-d2 / 0.05).reshape(n, 1, size, size)


def _row_profile(x):
    """Features invariant to horizontal motion: the image's mass in each row."""
    return x.sum(dim=(1, 3))


def test_validity_separates_invariant_and_non_invariant_motions():
    x = _blobs(8)
    inner = image_symmetries.image_inner_product(torch.ones(256), 16, 16)
    motions = generators.normalise(generators.affine_fields(), inner)
    v = image_symmetries.validity(_row_profile, x, motions, 0.1, steps=4)
    assert float(v[0]) < 1e-3  # translation along x leaves the row masses unchanged
    assert float(v[1]) > 0.1  # translation along y moves them
    assert float(image_symmetries.validity(_row_profile, x, motions, 0.0, steps=4).abs().max()) < 1e-3


def test_liegg_finds_the_invariant_affine_fields():
    """Normalised row masses are invariant to (1, 0), (y, 0) (they keep every row's mass) and
    (x, 0) (it scales all row masses alike, which the cosine ignores), and to nothing else."""
    x = _blobs(16)
    inner = image_symmetries.image_inner_product(torch.ones(256), 16, 16)
    coefs, singular = image_symmetries.liegg(_row_profile, x, inner)
    assert float(singular[2]) < 1e-3 * float(singular[3])
    invariant = coefs[:, :3]
    others = [1, 3, 5]  # (0,1), (0,y), (0,x)
    assert float(invariant[others].abs().max()) < 1e-3 * float(invariant.abs().max())
    V = image_symmetries.linear_combination(coefs)(inner.points)  # orthonormal under inner
    torch.testing.assert_close(inner.gram(V, V), torch.eye(6), atol=1e-4, rtol=1e-4)


def test_learning_runs_and_changes_the_field():
    x = _blobs(8, size=12)
    inner = image_symmetries.image_inner_product(torch.ones(144), 12, 12)
    torch.manual_seed(0)
    field = generators.GeneratorField(2, 3, width=16, head_width=8)
    before = [p.detach().clone() for p in field.parameters()]
    history = image_symmetries.learn_symmetries(
        _row_profile,
        x,
        field,
        inner,
        image_symmetries.ImageLearning(iterations=2, batch_size=4, lr=1e-2, steps=2),
        log=None,
    )
    assert list(history.iteration) == [0, 1] and history["loss"].map(math.isfinite).all()
    assert history["validity"].tolist() == pytest.approx((history.S1 + history.S2 + history.S3).tolist())
    assert any(not torch.equal(a, b) for a, b in zip(before, field.parameters()))
    with pytest.raises(ValueError, match="pixel grid"):
        image_symmetries.learn_symmetries(
            _row_profile,
            x,
            field,
            image_symmetries.image_inner_product(torch.ones(64), 8, 8),
            image_symmetries.ImageLearning(1),
            log=None,
        )


def test_learning_clips_the_gradient_before_the_adam_step():
    """Adam's first step is about lr per parameter; clipped to norm 1e-12 first, the gradient is
    below Adam's epsilon and the step is ~1e-4 lr. The recorded norm is the one before clipping."""
    x = _blobs(8, size=12)
    inner = image_symmetries.image_inner_product(torch.ones(144), 12, 12)
    moved, norms = {}, {}
    for clip in (None, 1e-12):
        torch.manual_seed(0)
        field = generators.GeneratorField(2, 3, width=16, head_width=8)
        before = [p.detach().clone() for p in field.parameters()]
        settings = image_symmetries.ImageLearning(iterations=1, batch_size=4, lr=1e-2, steps=2, clip=clip)
        history = image_symmetries.learn_symmetries(_row_profile, x, field, inner, settings, log=None)
        moved[clip] = max(float((p.detach() - b).abs().max()) for p, b in zip(field.parameters(), before))
        norms[clip] = float(history.grad_norm[0])
    assert moved[None] > 0.5e-2 and moved[1e-12] < 1e-5, moved
    assert norms[None] == pytest.approx(norms[1e-12]) and norms[None] > 0


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_image_learning_reads_notebook_04s_learn_block(profile):
    """The learn block also holds n_generators (ignored) and no w_sym (its default)."""
    block = profiles.get(profile, "image_symmetries")["learn"]
    settings = image_symmetries.ImageLearning.from_settings(block)
    fields = [f.name for f in dataclasses.fields(settings)]
    assert "n_generators" in block and "n_generators" not in fields and "w_sym" not in block
    assert settings.w_sym == 1.0
    assert {name: getattr(settings, name) for name in fields if name != "w_sym"} == {
        name: block[name] for name in fields if name != "w_sym"
    }
    assert image_symmetries.ImageLearning.from_settings({**block, "w_sym": 0.5}).w_sym == 0.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.iterations = 3


def test_image_learning_names_a_missing_key():
    block = {k: v for k, v in profiles.get("quick", "image_symmetries")["learn"].items() if k not in ("tau", "steps")}
    with pytest.raises(KeyError, match="ImageLearning settings lack steps, tau; they need iterations, .*ortho_mode"):
        image_symmetries.ImageLearning.from_settings(block)


@pytest.mark.parametrize(
    "change, field, accepted",
    [
        ({"iterations": 0}, "iterations", "a positive integer"),
        ({"batch_size": True}, "batch_size", "a positive integer"),
        ({"steps": 2.5}, "steps", "a positive integer"),
        ({"lr": -1e-3}, "lr", "a finite positive number"),
        ({"sigma": 0}, "sigma", "a finite positive number"),
        ({"w_ortho": -1.0}, "w_ortho", "a finite non-negative number"),
        ({"tau": float("inf")}, "tau", "a finite non-negative number"),
        ({"clip": 0.0}, "clip", "a finite positive number"),
        ({"ortho_mode": "spam"}, "ortho_mode", "one of"),
    ],
)
def test_image_learning_names_a_bad_value(change, field, accepted):
    with pytest.raises(ValueError, match=f"ImageLearning: {field} must be {accepted}"):
        image_symmetries.ImageLearning(**{"iterations": 2, **change})


def test_image_learning_must_be_given_as_settings():
    x = _blobs(4, size=12)
    inner = image_symmetries.image_inner_product(torch.ones(144), 12, 12)
    field = generators.GeneratorField(2, 2, width=8, head_width=4)
    with pytest.raises(TypeError, match="learning must be an ImageLearning; got int"):
        image_symmetries.learn_symmetries(_row_profile, x, field, inner, 2, log=None)


def _learn(field, checkpoint, iterations=4, log=None):
    x = _blobs(8, size=12)
    inner = image_symmetries.image_inner_product(torch.ones(144), 12, 12)
    return image_symmetries.learn_symmetries(
        _row_profile,
        x,
        field,
        inner,
        image_symmetries.ImageLearning(iterations=iterations, batch_size=4, lr=1e-2, steps=2),
        seed=5,
        log=log,
        checkpoint=checkpoint,
        checkpoint_every=1,
    )


def _new_field():
    torch.manual_seed(0)
    return generators.GeneratorField(2, 3, width=16, head_width=8)


def test_image_learning_resumes_from_a_checkpoint_as_if_never_stopped(tmp_path, monkeypatch):
    """The image learner runs through the same loop as the PDE learner: a NaN loss at iteration 2
    stops it with the iteration and its terms, keeping the checkpoint of iteration 2; a rerun
    resumes there and ends with the weights of an uninterrupted run."""
    full = _new_field()
    _learn(full, None)
    ckpt = tmp_path / "images.pt"
    original, calls = image_symmetries.losses.orthonormality, []

    def nan_at_2(*args, **kwargs):
        calls.append(1)
        value = original(*args, **kwargs)
        return value * float("nan") if len(calls) == 3 else value

    monkeypatch.setattr(image_symmetries.losses, "orthonormality", nan_at_2)
    with pytest.raises(learning.NonFiniteLoss, match=r"at iteration 2; terms .*ortho.*last good checkpoint"):
        _learn(_new_field(), ckpt)
    assert torch.load(ckpt, weights_only=False)["iteration"] == 2
    monkeypatch.setattr(image_symmetries.losses, "orthonormality", original)
    logs = []
    resumed_field = _new_field()
    history = _learn(resumed_field, ckpt, log=logs.append)
    assert "resumed" in logs[0] and list(history.iteration) == [0, 1, 2, 3]
    for a, b in zip(full.parameters(), resumed_field.parameters()):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="belongs to another run"):
        _learn(_new_field(), ckpt, iterations=5)


# ---------------------------------------------------------------------------------- augmentation


def test_flow_augment_translates_by_the_drawn_coefficient():
    x = _blobs(4)
    translate = generators.FunctionField(lambda z: torch.tensor([1.0, 0.0]).expand(len(z), 2)[..., None], 1, 2)
    augment = image_augmentation.FlowAugment(translate, 16, 16, scale=0.2, steps=2)
    out = augment(x, torch.Generator().manual_seed(3))
    c = (2 * torch.rand(4, 1, generator=torch.Generator().manual_seed(3)) - 1) * 0.2
    grid = generators.grid_points(16, 16)[None] - torch.cat([c, torch.zeros_like(c)], -1)[:, None]
    torch.testing.assert_close(out, flows.sample_images(x, grid.reshape(4, 16, 16, 2)), atol=1e-5, rtol=1e-5)


def test_crop_augment_shifts_within_the_padding():
    x = torch.rand(5, 1, 6, 6)
    assert torch.equal(image_augmentation.crop_augment(0)(x, torch.Generator()), x)
    out = image_augmentation.crop_augment(1)(x, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    for b in range(5):
        assert any(torch.equal(out[b], padded[b, :, i : i + 6, j : j + 6]) for i in range(3) for j in range(3))


def test_make_augmentation_checks_kind():
    assert image_augmentation.make_augmentation("none", (1, 8, 8)) is None
    with pytest.raises(ValueError, match="kind must be one of"):
        image_augmentation.make_augmentation("mixup", (1, 8, 8))
    with pytest.raises(ValueError, match="field must be given"):
        image_augmentation.make_augmentation("flow", (1, 8, 8))


def test_training_from_settings_names_a_missing_key_and_matches_the_explicit_call():
    data = im.ImageData(
        "toy",
        torch.rand(20, 1, 28, 28),
        torch.arange(20) % 10,
        torch.rand(4, 1, 28, 28),
        torch.arange(4) % 10,
        [str(i) for i in range(10)],
    )
    settings = {"epochs": 2, "batch_size": 10, "lr": 0.05, "weight_decay": 0.0, "milestones": [0.5], "gamma": 0.1}
    with pytest.raises(KeyError, match="lack gamma; they need epochs, batch_size, lr, weight_decay, milestones, gamma"):
        im.ClassifierTraining.from_settings({k: v for k, v in settings.items() if k != "gamma"})
    losses = []
    for explicit in (True, False):
        torch.manual_seed(0)
        model = im.make_classifier("SmallCNN", data, 4)
        if explicit:
            training = im.ClassifierTraining(2, 10, 0.05, weight_decay=0.0, milestones=(0.5,), gamma=0.1)
        else:
            training = im.ClassifierTraining.from_settings(settings)
        history = im.train_classifier(model, data.train_x, data.train_y, training, seed=3, log=None)
        losses.append(history["loss"].tolist())
    assert losses[0] == losses[1]
    with pytest.raises(TypeError, match="training must be a ClassifierTraining; got int"):
        im.train_classifier(model, data.train_x, data.train_y, 2, log=None)


def test_classifier_training_reads_its_fields_from_settings_holding_other_keys():
    """Notebook 05's settings and notebook 04's extractor block hold other keys (arch, seeds, ...):
    they are ignored; momentum, absent there, keeps its default; lists become tuples."""
    notebook05 = profiles.get("quick", "image_augmentation")
    training = im.ClassifierTraining.from_settings(notebook05)
    assert training == im.ClassifierTraining(
        notebook05["epochs"],
        notebook05["batch_size"],
        notebook05["lr"],
        weight_decay=notebook05["weight_decay"],
        milestones=tuple(notebook05["milestones"]),
        gamma=notebook05["gamma"],
    )
    assert training.momentum == 0.9 and isinstance(training.milestones, tuple)
    extractor = im.ClassifierTraining.from_settings(profiles.get("smoke", "image_symmetries")["extractor"])
    assert extractor.epochs == 1 and extractor.milestones == (0.3, 0.6, 0.8)
    assert im.ClassifierTraining.from_settings({**notebook05, "momentum": 0.5}).momentum == 0.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        training.lr = 1.0


@pytest.mark.parametrize(
    "change, field, accepted",
    [
        ({"epochs": 0}, "epochs", "a positive integer"),
        ({"batch_size": 0}, "batch_size", "a positive integer"),
        ({"batch_size": 8.0}, "batch_size", "a positive integer"),
        ({"lr": 0.0}, "lr", "a finite positive number"),
        ({"gamma": float("nan")}, "gamma", "a finite positive number"),
        ({"weight_decay": -1e-4}, "weight_decay", "a finite non-negative number"),
        ({"momentum": 1.0}, "momentum", r"in \(0, 1\)"),
        ({"milestones": (0.6, 0.3)}, "milestones", "strictly increasing"),
        ({"milestones": (0.5, 0.5)}, "milestones", "strictly increasing"),
        ({"milestones": (0.5, 1.0)}, "milestones", r"fractions in \(0, 1\)"),
        ({"milestones": 0.5}, "milestones", r"fractions in \(0, 1\)"),
    ],
)
def test_classifier_training_names_a_bad_value(change, field, accepted):
    with pytest.raises(ValueError, match=f"ClassifierTraining: {field} must be {accepted}"):
        im.ClassifierTraining(**{"epochs": 2, **change})


# -------------------------------------------- cropped data, held-out images (notebooks 04-05, D18, D23)


def _tiny_data(n_per_class=6, size=28, seed=0):
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(10).repeat_interleave(n_per_class)
    x = torch.rand(len(y), 1, size, size, generator=gen)
    return im.ImageData("tiny", x, y, x[:10].clone(), y[:10].clone(), [str(c) for c in range(10)])


def test_center_crop_keeps_the_central_pixels_of_every_image():
    d = _tiny_data()
    c = im.center_crop(d, 20)
    assert c.name == "tiny_crop20" and c.shape == (1, 20, 20)
    assert torch.equal(c.train_x, d.train_x[..., 4:24, 4:24]) and torch.equal(c.test_x, d.test_x[..., 4:24, 4:24])
    assert torch.equal(c.train_y, d.train_y) and c.classes == d.classes
    assert im.center_crop(d, None) is d
    assert torch.equal(im.center_crop(d, 27).train_x, d.train_x[..., 0:27, 0:27])  # odd margin: one more below
    for bad in (0, 29, 2.5, True):
        with pytest.raises(ValueError, match="crop must be None or an integer from 1 to 28"):
            im.center_crop(d, bad)


def test_load_dataset_crops_mnist():
    d = im.load_dataset("mnist", crop=20)
    assert d.name == "mnist_crop20" and d.train_x.shape == (4000, 1, 20, 20) and d.test_x.shape == (1000, 1, 20, 20)


def test_hold_out_splits_the_training_images_by_class_and_leaves_the_test_images_out():
    d = _tiny_data()
    h = im.hold_out(d, 2, seed=1)
    assert h.name == "tiny_validation" and len(h.test_y) == 20 and len(h.train_y) == 40
    assert torch.equal(torch.bincount(h.test_y), torch.full((10,), 2))
    together = torch.cat([h.train_x, h.test_x]).flatten(1)
    assert torch.equal(
        together[torch.argsort(together[:, 0])], d.train_x.flatten(1)[torch.argsort(d.train_x.flatten(1)[:, 0])]
    )
    assert torch.equal(h.test_x, im.hold_out(d, 2, seed=1).test_x)  # fixed by the seed
    assert not torch.equal(h.test_x, im.hold_out(d, 2, seed=2).test_x)
    with pytest.raises(ValueError, match="per_class must be an integer from 1 to 5"):
        im.hold_out(d, 6)


# ------------------------------------------------------ learned against untrained (notebook 04, D23)


def test_validity_per_image_averages_to_validity():
    x = _blobs(7)
    inner = image_symmetries.image_inner_product(torch.ones(256), 16, 16)
    motions = generators.normalise(generators.affine_fields(), inner)
    per_image = image_symmetries.validity_per_image(_row_profile, x, motions, 0.1, steps=4, batch_size=3)
    assert per_image.shape == (6, 7)
    torch.testing.assert_close(per_image.mean(dim=1), image_symmetries.validity(_row_profile, x, motions, 0.1, 4))
    assert float(per_image[0].abs().max()) < 1e-3 and float(per_image[1].min()) > 0.05  # each image, not just the mean


def test_aff2_angles_are_zero_for_affine_fields_and_large_for_a_nonaffine_start():
    inner = image_symmetries.image_inner_product(torch.rand(400) + 0.5, 20, 20)
    mixed = image_symmetries.linear_combination(torch.rand(6, 6) + torch.eye(6))
    assert float(image_symmetries.aff2_angles(mixed, inner).max()) < 1e-2
    controls = image_symmetries.control_fields()
    with_controls = generators.FunctionField(
        lambda z: torch.cat([generators.affine_fields()(z)[..., :5], controls(z)[..., 1:2]], dim=-1), 6, 2
    )
    angles = image_symmetries.aff2_angles(with_controls, inner)
    assert angles.shape == (6,) and float(angles[:5].max()) < 1e-2 and float(angles[5]) > 45
    largest = {}
    for scale in (1.0, 4.0):
        largest[scale] = []
        for seed in range(3):
            torch.manual_seed(seed)
            field = image_symmetries.nonaffine_start(generators.GeneratorField(2, 10), scale)
            largest[scale].append(float(image_symmetries.aff2_angles(field, inner).max()))
    assert min(largest[4.0]) >= 20 and all(b > a for a, b in zip(largest[1.0], largest[4.0])), largest


def test_nonaffine_start_scales_only_the_first_layer():
    torch.manual_seed(0)
    field = generators.GeneratorField(2, 3, width=16, head_width=8)
    before = {k: v.clone() for k, v in field.state_dict().items()}
    assert image_symmetries.nonaffine_start(field, 3.0) is field
    for key, value in field.state_dict().items():
        expected = 3.0 * before[key] if key.startswith("trunk.0.") else before[key]
        torch.testing.assert_close(value, expected)
    for bad in (0, -1.0, "2", True):
        with pytest.raises(ValueError, match="scale must be a positive number"):
            image_symmetries.nonaffine_start(field, bad)


def test_no_signal_share_counts_the_norm_on_blank_pixels():
    x = torch.zeros(3, 1, 8, 8)
    x[:, :, :, :4] = torch.rand(3, 1, 8, 4, generator=torch.Generator().manual_seed(0))  # ink in the left half only
    signal = image_symmetries.signal_map(x)
    assert signal.shape == (8, 8) and float(signal[:, 6:].max()) == 0 and float(signal[:, :3].min()) > 0
    z = generators.grid_points(8, 8)
    right = (z[:, 0] > 0.2).float()  # columns 5-7
    values = torch.stack([right[:, None].expand(-1, 2), (1 - right)[:, None].expand(-1, 2), torch.ones(64, 2)], -1)
    share, pixels = image_symmetries.no_signal_share(values, signal)
    blank = float((signal < 0.01 * signal.max()).float().mean())
    assert pixels == pytest.approx(blank) and 0.2 < blank < 0.5
    assert float(share[0]) == pytest.approx(1.0) and float(share[1]) == pytest.approx((blank * 64 - 24) / 40)
    assert float(share[2]) == pytest.approx(blank)


def test_validity_comparison_pairs_images_and_reports_intervals():
    gen = torch.Generator().manual_seed(0)
    untrained = torch.rand(10, 50, generator=gen)
    learned = untrained - 0.1
    learned[7] = untrained[7] + 0.05 * torch.randn(50, generator=gen)  # no systematic difference
    affine = torch.rand(6, 50, generator=gen)
    table = image_symmetries.validity_comparison({"learned": learned, "untrained": untrained, "affine": affine}, 3)
    assert list(table.columns[:6]) == image_symmetries.COMPARISON_COLUMNS
    assert len(table) == 22 and set(table.seed) == {3}
    assert list(table.field[:4]) == ["1", "1", "2", "2"] and list(table.field[-2:]) == ["1-6", "1-6"]
    lu = table[table.comparison == "learned - untrained"].set_index("field")
    assert lu.loc["1"].difference == pytest.approx(-0.1) and lu.loc["1"].ci_high == pytest.approx(-0.1)
    assert lu.loc["1-6"].difference == pytest.approx(-0.1) and lu.loc["1-6"].excludes_zero
    assert lu.loc["8"].ci_low < 0 < lu.loc["8"].ci_high and not lu.loc["8"].excludes_zero
    la = table[table.comparison == "learned - affine"].set_index("field")
    assert la.loc["2"].difference == pytest.approx(float((learned[1] - affine.mean(0)).mean()), abs=1e-6)
    with pytest.raises(ValueError, match="same B images"):
        image_symmetries.validity_comparison({"learned": learned, "untrained": untrained[:, :10], "affine": affine}, 0)


def test_learning_curve_records_validity_and_angles_on_schedule():
    x = _blobs(8, size=12)
    inner = image_symmetries.image_inner_product(torch.ones(144), 12, 12)
    torch.manual_seed(0)
    field = generators.GeneratorField(2, 6, width=16, head_width=8)
    curve = image_symmetries.LearningCurve(_row_profile, x[:4], inner, 0.1, 2)
    curve.record(0, field)
    settings = image_symmetries.ImageLearning(iterations=4, batch_size=4, lr=1e-2, steps=2)
    image_symmetries.learn_symmetries(
        _row_profile, x, field, inner, settings, log=None, callback=curve, callback_every=2
    )
    table = curve.table()
    assert sorted(set(table.iteration)) == [0, 2, 4]
    fields = table[table.field != "span"]
    assert len(fields) == 3 * 6 and fields.validity.between(0, math.pi).all()
    spans = table[table.field == "span"]
    assert list(spans["index"][:6]) == [1, 2, 3, 4, 5, 6] and spans.angle_deg.between(0, 90).all()
    ortho = generators.orthonormalise(generators.normalise(field, inner), inner)
    last = fields[fields.iteration == 4].validity.to_numpy()
    np.testing.assert_allclose(last, image_symmetries.validity(_row_profile, x[:4], ortho, 0.1, 2).numpy(), rtol=1e-5)
