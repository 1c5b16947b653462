"""Fixtures and helpers shared by the tests."""

from __future__ import annotations

import io as _io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from symflow import io as symflow_io
from symflow.image import images


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
