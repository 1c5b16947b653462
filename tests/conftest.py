"""Fixtures and helpers shared by the tests."""

from __future__ import annotations

import io as _io
import pickle
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from symflow import io as symflow_io
from symflow import profiles
from symflow.image import images
from symflow.pde import pdes

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def example_registry(monkeypatch):
    """The equation registry as it was, restored afterwards (equations, modules imported, the
    examples' modules forgotten), with examples/ on sys.path and no SYMFLOW_EXTRA_MODULES of the
    caller's. Yields monkeypatch, for a test to register what it needs."""
    monkeypatch.delenv(profiles.ENV_EXTRA_MODULES, raising=False)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    equations, imported = dict(pdes.EQUATIONS._equations), set(pdes._imported)
    yield monkeypatch
    pdes.EQUATIONS._equations.clear()
    pdes.EQUATIONS._equations.update(equations)
    pdes._imported.clear()
    pdes._imported.update(imported)
    for example in EXAMPLES.glob("*.py"):
        sys.modules.pop(example.stem, None)


def write_cifar_archive(
    path, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], classes: list[str]
) -> Path:
    """Write images (uint8 (B, 3, 32, 32)) and labels in the official archive format (for tests).

    The training set is split evenly over the five `data_batch_i` files.
    """

    def add(tar, name, obj):
        blob = pickle.dumps(obj)
        info = tarfile.TarInfo(f"{images.CIFAR10_FOLDER}/{name}")
        info.size = len(blob)
        tar.addfile(info, _io.BytesIO(blob))

    with symflow_io.atomic_path(path) as tmp, tarfile.open(tmp, "w:gz") as tar:
        add(tar, "batches.meta", {b"label_names": [c.encode() for c in classes]})
        for name, (x, y) in zip(images._CIFAR10_TRAIN, zip(np.array_split(train[0], 5), np.array_split(train[1], 5))):
            add(tar, name, {b"data": x.reshape(len(x), -1), b"labels": [int(v) for v in y]})
        add(tar, "test_batch", {b"data": test[0].reshape(len(test[0]), -1), b"labels": [int(v) for v in test[1]]})
    return Path(path)


@pytest.fixture
def one_thread():
    """torch on one thread for the test (subprocesses it starts are given one too), restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
