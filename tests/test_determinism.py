"""Reruns with the same seed and thread count give the same numbers (DESIGN.md, "Data and results").

Two cheap smoke computations through the library, each turned into tables: a short PDE generator
training (its history and final parameters) and a short image classifier training (its history,
per-image test predictions and parameters). Each runs here and again in a fresh Python process
with the same seed and one thread; the CSV files written by the two runs must be byte-identical.

    python tests/test_determinism.py    prints how far a 2-thread run lies from a 1-thread run
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch

from symflow.image import images
from symflow.pde import pde_learning
from test_pde_learning import PARAMS, burgers_graphs

TESTS = Path(__file__).resolve().parent


def _parameters(module: torch.nn.Module) -> pd.DataFrame:
    """Every parameter entry of `module`, one row each: name, index (flattened), value (float64)."""
    rows = [
        {"name": name, "index": i, "value": v}
        for name, p in module.named_parameters()
        for i, v in enumerate(p.detach().double().flatten().tolist())
    ]
    return pd.DataFrame(rows)


def pde_tables(seed: int = 2) -> dict[str, pd.DataFrame]:
    """A 4-iteration Burgers generator training with `seed`: its history (without the timing
    column) and its final parameters. The global torch seed is set to something unrelated first,
    so that a dependence on hidden global state shows."""
    torch.manual_seed(12345)
    field, history = pde_learning.train(
        "Burgers", burgers_graphs(), {**PARAMS, "iterations": 4}, None, seed=seed, log=None
    )
    return {"pde_history": history.drop(columns="seconds"), "pde_parameters": _parameters(field)}


def classifier_tables(seed: int = 0) -> dict[str, pd.DataFrame]:
    """A 3-epoch SmallCNN training (width 4, 64 synthetic 12x12 images of two classes, batch 16)
    with `seed` for the weights and the batches: its history (without timing), which of 32 test
    images it classifies correctly, and its final parameters."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(96, 1, 12, 12, generator=gen) * 0.5
    y = torch.arange(96) % 2
    x[y == 1, :, :6] += 0.3  # class 1: brighter upper half
    torch.manual_seed(seed)
    model = images.SmallCNN(1, 2, 12, width=4)
    training = images.ClassifierTraining(epochs=3, batch_size=16, lr=0.05)
    history = images.train_classifier(model, x[:64], y[:64], training, seed=seed, log=None)
    correct = images.correct_predictions(model, x[64:], y[64:])
    return {
        "classifier_history": history.drop(columns="seconds"),
        "classifier_predictions": pd.DataFrame({"image": range(len(correct)), "correct": correct}),
        "classifier_parameters": _parameters(model),
    }


def write_tables(folder) -> list[Path]:
    """Run both computations and write every table as `<folder>/<name>.csv` (floats to 17
    significant digits, so that equal files mean equal float64 values); return the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in {**pde_tables(), **classifier_tables()}.items():
        paths.append(folder / f"{name}.csv")
        table.to_csv(paths[-1], index=False, float_format="%.17g")
    return paths


def test_rerun_with_the_same_seed_and_threads_gives_identical_tables(tmp_path, one_thread):
    """The tables of a run here and of a rerun in a fresh process (one thread each) are the same
    bytes; a rerun in this process after the other runs is too (no hidden state carried over)."""
    here = write_tables(tmp_path / "here")
    code = "import torch; torch.set_num_threads(1); import test_determinism as d; d.write_tables(d.sys.argv[1])"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(TESTS)}
    command = [sys.executable, "-c", code, str(tmp_path / "fresh")]
    proc = subprocess.run(command, cwd=TESTS, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = write_tables(tmp_path / "again")
    assert [p.name for p in here] == [p.name for p in again] and len(here) == 5
    for a in here:
        assert len(pd.read_csv(a)) > 0
        for other in (tmp_path / "fresh" / a.name, tmp_path / "again" / a.name):
            assert other.read_bytes() == a.read_bytes(), f"{other} differs from {a}"


def test_another_seed_gives_other_tables():
    """The check above can fail: another seed changes both computations."""
    a, b = pde_tables(2), pde_tables(3)
    assert not a["pde_parameters"].value.equals(b["pde_parameters"].value)
    c, d = classifier_tables(0), classifier_tables(1)
    assert not c["classifier_parameters"].value.equals(d["classifier_parameters"].value)


def thread_differences(threads: tuple[int, int] = (1, 2)) -> pd.DataFrame:
    """Largest absolute and relative differences between the tables' numbers at two thread
    counts (same seed): one row per table and column."""
    before = torch.get_num_threads()
    runs = []
    try:
        for n in threads:
            torch.set_num_threads(n)
            runs.append({**pde_tables(), **classifier_tables()})
    finally:
        torch.set_num_threads(before)
    rows = []
    for name, table in runs[0].items():
        other = runs[1][name]
        for column in table.select_dtypes("number").columns:
            diff = (table[column] - other[column]).abs()
            rows.append(
                {
                    "table": name,
                    "column": column,
                    "max_abs_difference": float(diff.max()),
                    "max_relative_difference": float((diff / table[column].abs().clip(lower=1e-30)).max()),
                }
            )
    return pd.DataFrame(rows)


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    print(thread_differences().to_string(index=False))
