"""The fault matrix: what a run does when it is killed, when its inputs are damaged or mistaken,
and when the disk fills up. Each fault ends either in a clean resume (the rerun finishes with the
result of an uninterrupted run) or in an error that names the file or setting at fault; in both
cases no half-written file is left under a final name, and temporary names (`.<name>.<pid>.tmp`,
git-ignored) are removed by the next writer of that file or by the runner.

`tests/faults.csv` lists every fault with the test below that checks it and the expected outcome;
`symflow.report` prints it in results/README.md, and `test_every_fault_row_names_a_test_here`
keeps the two in step. Kills are real (SIGKILL, in a child process, at a chosen point or
asynchronously); data are the smoke profile's, written into temporary folders.
"""

from __future__ import annotations

import ast
import csv
import errno
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from symflow import generators, io, profiles, report, runner
from symflow.image import image_symmetries, images
from symflow.pde import pde_learning, pdes, solvers
from test_images import _blobs, _row_profile
from test_pde_learning import PARAMS, burgers_graphs

TESTS = Path(__file__).resolve().parent
FAULTS_CSV = TESTS / "faults.csv"


# ------------------------------------------------------------------------------------- helpers
def _die() -> None:
    """End this process at once, as a kill -9 would: no finally blocks, no atexit."""
    os.kill(os.getpid(), signal.SIGKILL)


def _child_env() -> dict:
    """The environment of a child process: one thread, these tests importable."""
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}


def _run_child(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `code` with sys.argv[1:] = `args` in a fresh Python (one torch thread); returns the
    finished process."""
    command = [sys.executable, "-c", "import torch; torch.set_num_threads(1)\n" + code, *args]
    return subprocess.run(command, env=_child_env(), cwd=TESTS, capture_output=True, text=True, timeout=timeout)


def _killed(proc) -> bool:
    return proc.returncode == -signal.SIGKILL


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _temporaries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.name.endswith(".tmp"))


# --------------------------------------------------------------------------- 1. data generation
DIE_WRITING_SECOND_FILE = """
import os, sys, xarray as xr
from symflow.pde import solvers
from test_faults import _die
original, calls = xr.Dataset.to_netcdf, []

def dying(self, path, *args, **kwargs):  # the second file: write it, cut it in half, die
    calls.append(path)
    out = original(self, path, *args, **kwargs)
    if len(calls) == 2:
        os.truncate(path, os.path.getsize(path) // 2)
        _die()
    return out

xr.Dataset.to_netcdf = dying
solvers.main(["--profile", "smoke", "--root", sys.argv[1], "--equations", "KdV"])
"""


def _check_data_folder(root: Path, equations) -> None:
    """Every split of `equations` at smoke in `root` loads (attributes as requested, u finite, the
    profile's sizes), and nothing else is in the folder."""
    sizes = profiles.get("smoke", "pde_data")["sizes"]
    for name in equations:
        for split in solvers.SPLITS:
            ds = solvers.dataset(name, split, "smoke", root=root)
            assert ds.sizes["sample"] == sizes[split] and np.isfinite(ds["u"].values).all()
    expected = {f"{name}_{split}.nc" for name in equations for split in solvers.SPLITS}
    assert {p.name for p in (root / "smoke").iterdir()} == expected


def test_kill_during_data_generation_mid_write(tmp_path, one_thread):
    """`python -m symflow.pde.solvers` killed while writing its second file (half of it on disk,
    under the temporary name): the first file is complete, the second absent. The rerun reuses
    the first (same bytes), writes the others, removes the dead writer's temporary, and each file
    holds what an uninterrupted generation gives."""
    root = tmp_path / "data"
    proc = _run_child(DIE_WRITING_SECOND_FILE, str(root))
    assert _killed(proc), proc.stderr[-2000:]
    folder = root / "smoke"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["KdV_train.nc"]
    assert [p.name.split(".nc.")[0] for p in _temporaries(folder)] == [".KdV_valid"]
    first = _sha(folder / "KdV_train.nc")
    rerun = subprocess.run(
        [sys.executable, "-m", "symflow.pde.solvers", "--profile", "smoke", "--root", str(root), "--equations", "KdV"],
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert _sha(folder / "KdV_train.nc") == first  # reused, not regenerated
    _check_data_folder(root, ["KdV"])
    kdv = pdes.get("KdV")
    for split in ("valid", "test"):
        fresh = solvers.generate(kdv, split, **solvers.split_parameters("smoke", split, kdv))
        stored = solvers.dataset(kdv, split, "smoke", root=root)
        np.testing.assert_allclose(stored["u"].values, fresh["u"].values, rtol=1e-12, atol=1e-12)


EQUATIONS = ["KdV", "KS"]  # two ETDRK4 equations: six files


def test_kill_during_data_generation_asynchronous(tmp_path):
    """`python -m symflow.pde.solvers --profile smoke` (two equations, six files) killed from outside as
    soon as its first file appears, wherever it then is: the rerun completes every file, each
    valid, and leaves no temporary."""
    root, log = tmp_path / "data", tmp_path / "solvers.log"
    command = [
        sys.executable,
        "-m",
        "symflow.pde.solvers",
        "--profile",
        "smoke",
        "--root",
        str(root),
        "--equations",
        *EQUATIONS,
    ]
    with log.open("w") as stderr:
        proc = subprocess.Popen(command, env=_child_env(), stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            deadline = time.monotonic() + 120
            while not list((root / "smoke").glob("*.nc")) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            proc.kill()
            proc.wait(timeout=60)
    assert _killed(proc), f"the generation ended before it could be killed: {log.read_text()[-2000:]}"
    log.unlink()
    written = sorted(p.name for p in (root / "smoke").glob("*.nc"))
    assert 1 <= len(written) < 3 * len(EQUATIONS)
    rerun = subprocess.run(command, env=_child_env(), capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    _check_data_folder(root, EQUATIONS)


# ------------------------------------------------------------------------ 2. PDE generator training
PDE_RUN = {**PARAMS, "iterations": 6, "checkpoint_every": 2, "log_every": 100}


def _pde_training(checkpoint=None, die: str | None = None):
    """Learn Burgers generators for PDE_RUN's 6 iterations (checkpoints after 2 and 4) with seed 1.

    die: None; "between checkpoints" (killed after iteration 3: the checkpoint of 2 is the last);
    "writing a checkpoint" (killed while the checkpoint of 4 is half written to its temporary).
    Returns (field, history, log lines)."""
    callback = None
    if die == "between checkpoints":
        callback = lambda done, field: _die() if done == 3 else None  # noqa: E731
    elif die == "writing a checkpoint":
        original, calls = torch.save, []

        def dying_save(obj, f, *args, **kwargs):
            calls.append(f)
            original(obj, f, *args, **kwargs)
            if len(calls) == 2:
                os.truncate(f, os.path.getsize(f) // 2)
                _die()

        torch.save = dying_save
    logs = []
    field, history = pde_learning.train(
        "Burgers", burgers_graphs(), PDE_RUN, checkpoint, seed=1, log=logs.append, callback=callback, callback_every=1
    )
    return field, history, logs


@pytest.mark.parametrize("when", ["between checkpoints", "writing a checkpoint"])
def test_kill_during_pde_generator_training_resumes_to_the_same_field(tmp_path, when, one_thread):
    """The training process is killed (SIGKILL) after iteration 3, or while writing the checkpoint
    of iteration 4; the checkpoint of iteration 2 is intact. The rerun resumes there and ends with
    the parameters and losses of an uninterrupted run (to 1e-6), and no temporary remains."""
    reference, expected, _ = _pde_training()
    ckpt = tmp_path / "KdV_seed0" / "checkpoint.pt"
    proc = _run_child(f"import test_faults; test_faults._pde_training({str(ckpt)!r}, {when!r})")
    assert _killed(proc), proc.stderr[-2000:]
    assert torch.load(ckpt, weights_only=False)["iteration"] == 2
    assert len(_temporaries(ckpt.parent)) == (when == "writing a checkpoint")
    field, history, logs = _pde_training(ckpt)
    assert logs[0] == f"Burgers seed 1: resumed from {ckpt} at iteration 2"
    assert history.iteration.tolist() == list(range(6))
    for a, b in zip(reference.parameters(), field.parameters()):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-6)
    columns = [c for c in expected.columns if c != "seconds"]
    pd.testing.assert_frame_equal(history[columns], expected[columns], rtol=0, atol=1e-6)
    assert [p.name for p in ckpt.parent.iterdir()] == ["checkpoint.pt"]


# ---------------------------------------------------------------------- 3. image generator training
def _image_training(checkpoint=None, die_at: int | None = None):
    """Learn 3 image fields of 12x12 blobs under a row-mass feature map, 6 iterations, checkpoints
    after 2 and 4, seed 5; killed when the log line of iteration `die_at` (1-based) is written,
    before that iteration's checkpoint. Returns (field, history, log lines)."""
    torch.manual_seed(0)
    field = generators.GeneratorField(2, 3, width=16, head_width=8)
    logs = []

    def log(line):
        logs.append(line)
        if die_at is not None and f" it {die_at}/" in line:
            _die()

    history = image_symmetries.learn_symmetries(
        _row_profile,
        _blobs(8, size=12),
        field,
        image_symmetries.image_inner_product(torch.ones(144), 12, 12),
        image_symmetries.ImageLearning(iterations=6, batch_size=4, lr=1e-2, steps=2),
        seed=5,
        log_every=1,
        log=log,
        checkpoint=checkpoint,
        checkpoint_every=2,
    )
    return field, history, logs


def test_kill_during_image_generator_training_resumes_to_the_same_field(tmp_path, one_thread):
    """Killed after iteration 4's step, before its checkpoint: the rerun resumes from iteration 2
    and ends with the parameters of an uninterrupted run (to 1e-6)."""
    reference, expected, _ = _image_training()
    ckpt = tmp_path / "checkpoint_seed5.pt"
    proc = _run_child(f"import test_faults; test_faults._image_training({str(ckpt)!r}, die_at=4)")
    assert _killed(proc), proc.stderr[-2000:]
    assert torch.load(ckpt, weights_only=False)["iteration"] == 2
    field, history, logs = _image_training(ckpt)
    assert logs[0] == f"images seed 5: resumed from {ckpt} at iteration 2"
    assert history.iteration.tolist() == list(range(6))
    for a, b in zip(reference.parameters(), field.parameters()):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-6)
    np.testing.assert_allclose(history.loss, expected.loss, rtol=0, atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == [ckpt.name]


# ---------------------------------------------------------------------------- 4. a notebook run
NOTEBOOK = "04_image_symmetries"
NOTEBOOK_ITERATIONS = 4
NOTEBOOK_OVERRIDES = {"learn": {"iterations": NOTEBOOK_ITERATIONS}}  # the notebook checkpoints every iteration


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL `proc` and every process it started (the notebook's kernel runs in its own session)."""
    import psutil

    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    proc.kill()
    proc.wait(timeout=60)
    psutil.wait_procs(children, timeout=30)


@pytest.mark.notebook
def test_kill_during_a_notebook_run_resumes_from_the_partial_folder(tmp_path, monkeypatch):
    """`python -m symflow.runner 04_image_symmetries --profile smoke` killed (runner and kernel)
    once the first generator checkpoint is in `smoke.partial/`; a temporary file of a write cut
    short is left there too. The rerun resumes the training from that checkpoint, finishes, and
    moves its outputs into `smoke/`: the full history, no temporary, no `.partial` folder."""
    monkeypatch.setenv("SYMFLOW_RESULTS", str(tmp_path))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    final = runner.output_dir(NOTEBOOK, "smoke")
    partial = final.with_name("smoke.partial")
    command = [sys.executable, "-m", "symflow.runner", NOTEBOOK, "--profile", "smoke", "--quiet"]
    command += ["-p", f"overrides={NOTEBOOK_OVERRIDES!r}"]
    log = tmp_path.parent / f"{tmp_path.name}_runner.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(command, env=_child_env(), stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            deadline = time.monotonic() + 300
            while (
                not (partial / "checkpoint_seed0.pt").exists() and proc.poll() is None and time.monotonic() < deadline
            ):
                time.sleep(0.05)
        finally:
            _kill_tree(proc)
    assert _killed(proc), f"the run ended before it could be killed: {log.read_text()[-2000:]}"
    done = torch.load(partial / "checkpoint_seed0.pt", weights_only=False)["iteration"]
    assert 1 <= done < NOTEBOOK_ITERATIONS and not (final / f"{NOTEBOOK}.ipynb").exists()
    (partial / f".training_seed0.png.{proc.pid}.tmp").write_bytes(b"half a figure")  # a write cut short

    out = runner.run_notebook(NOTEBOOK, "smoke", parameters={"overrides": NOTEBOOK_OVERRIDES}, html=False)
    assert out == final and not partial.exists()
    executed = (final / f"{NOTEBOOK}.ipynb").read_text()
    assert f"resumed from {partial / 'checkpoint_seed0.pt'} at iteration {done}" in executed
    history = pd.read_csv(final / "training_history_seed0.csv")
    assert history.iteration.tolist() == list(range(NOTEBOOK_ITERATIONS))
    assert (final / "provenance.json").exists() and (final / "learned_field_seed0.pt").exists()
    assert _temporaries(tmp_path) == [] and not list(tmp_path.rglob("*.partial"))
    assert not list(final.glob(".inputs*"))


# --------------------------------------------------------------------- 5, 6. damaged NetCDF files
def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:  # the same number of random bytes
        path.write_bytes(random.Random(0).randbytes(len(data)))


@pytest.mark.parametrize("how", ["truncated", "random bytes"])
def test_damaged_pde_data_file_is_an_error_naming_it(tmp_path, how):
    """A data file cut short or overwritten by random bytes is refused with its path, the reader's
    complaint and how to regenerate it; the file is left as it is (never silently replaced)."""
    solvers.dataset("Burgers", "valid", "smoke", root=tmp_path)
    path = solvers.data_path("Burgers", "valid", "smoke", tmp_path)
    _damage(path, how)
    damaged = _sha(path)
    with pytest.raises(ValueError, match="cannot be read as NetCDF") as err:
        solvers.dataset("Burgers", "valid", "smoke", root=tmp_path)
    assert str(path) in str(err.value) and "python -m symflow.pde.solvers --profile smoke" in str(err.value)
    assert ("truncated file" if how == "truncated" else "file signature not found") in str(err.value)
    assert _sha(path) == damaged


@pytest.mark.parametrize("how", ["truncated", "random bytes"])
def test_damaged_image_cache_is_an_error_naming_it(tmp_path, how):
    """The same for the MNIST cache of `images.load_mnist` (here a small one in its format)."""
    import xarray as xr

    cache = tmp_path / "mnist.nc"
    pixels = np.random.default_rng(0).integers(0, 256, (20, 1, 28, 28), dtype=np.uint8)
    split = np.where(np.arange(20) % 4 == 0, "test", "train")
    dims = ("sample", "channel", "row", "col")
    io.write_netcdf(
        xr.Dataset({"image": (dims, pixels), "label": ("sample", np.arange(20) % 10), "split": ("sample", split)}),
        cache,
    )
    assert images.load_mnist(cache).test_x.shape == (5, 1, 28, 28)
    _damage(cache, how)
    with pytest.raises(ValueError, match="cannot be read as NetCDF") as err:
        images.load_mnist(cache)
    assert str(cache) in str(err.value) and "delete it" in str(err.value)


# ----------------------------------------------------------------------- 7. a damaged checkpoint
def _damaged_checkpoint(path: Path, how: str) -> None:
    good = path.with_name("good.pt")
    torch.save({"identity": {}, "iteration": 2, "field": {"w": torch.zeros(64)}, "history": []}, good)
    if how == "truncated":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif how == "random bytes":
        path.write_bytes(random.Random(0).randbytes(4096))
    elif how == "empty":
        path.write_bytes(b"")
    else:  # "not a checkpoint": a readable torch file of something else
        torch.save(torch.zeros(3), path)
    good.unlink()


@pytest.mark.parametrize("how", ["truncated", "random bytes", "empty", "not a checkpoint"])
def test_damaged_checkpoint_is_an_error_naming_it(tmp_path, how):
    """Training with a damaged checkpoint stops before any iteration with a ValueError naming the
    file and what to do; the file is kept as it was (the run never overwrites what it cannot read)."""
    ckpt = tmp_path / "checkpoint.pt"
    _damaged_checkpoint(ckpt, how)
    before = _sha(ckpt)
    expected = "is not a checkpoint of this training loop" if how == "not a checkpoint" else "cannot be read.*damaged"
    with pytest.raises(ValueError, match=expected) as err:
        pde_learning.train("Burgers", burgers_graphs(), PDE_RUN, ckpt, seed=1, log=None)
    assert f"checkpoint {ckpt}" in str(err.value) and "delete it" in str(err.value)
    assert _sha(ckpt) == before and [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


# ----------------------------------------------------------- 8. a data file of another profile/grid
@pytest.mark.parametrize("other", ["profile", "grid"])
def test_data_file_of_another_profile_or_grid_is_refused(tmp_path, other):
    """Under the name of the quick profile, a smoke file (fewer trajectories) is refused; under
    the smoke name, a file on a 64-point grid is refused. The error names the file and the
    attribute with both values."""
    burgers = pdes.get("Burgers")
    if other == "profile":
        smoke = solvers.dataset(burgers, "valid", "smoke", root=tmp_path)
        path, profile = solvers.data_path("Burgers", "valid", "quick", tmp_path), "quick"
        path.parent.mkdir(parents=True)
        path.write_bytes(solvers.data_path("Burgers", "valid", "smoke", tmp_path).read_bytes())
        wanted = f"n_samples: file {smoke.sizes['sample']}, requested 128"
    else:
        params = {**solvers.split_parameters("smoke", "valid", burgers), "nx": 64}
        path, profile = solvers.data_path("Burgers", "valid", "smoke", tmp_path), "smoke"
        io.write_netcdf(solvers.generate(burgers, "valid", **params), path)
        wanted = "nx: file 64, requested 256"
    with pytest.raises(ValueError, match="generated with other parameters") as err:
        solvers.dataset(burgers, "valid", profile, root=tmp_path)
    assert str(path) in str(err.value) and wanted in str(err.value)


# ------------------------------------------------------------------ 9. a misspelt settings key
@pytest.mark.parametrize(
    "overrides, key, valid",
    [
        pytest.param({"seeed": 1}, "'seeed'", "equations, seed, learn, evaluate", id="top-level"),
        pytest.param({"learn": {"iteratons": 5}}, "'iteratons'", "batch, iterations, lr", id="nested"),
    ],
)
def test_unknown_settings_key_is_an_error_listing_the_valid_keys(tmp_path, monkeypatch, overrides, key, valid):
    """A misspelt key in a notebook's `overrides` fails in the runner before a kernel starts or a
    folder is made; the error names the key, where it is, and the valid keys at that level."""
    monkeypatch.setenv("SYMFLOW_RESULTS", str(tmp_path))
    with pytest.raises(ValueError, match=f"unknown key {key}; valid keys: ") as err:
        runner.run_notebook("02_pde_symmetries", "smoke", parameters={"overrides": overrides})
    assert valid in str(err.value)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match=f"unknown key {key}"):
        profiles.resolved("smoke", "pde_symmetries", overrides)


# ------------------------------------------------------------------- 10. no CIFAR-10 archive
def test_missing_cifar10_archive_names_the_path_and_the_download(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        images.load_dataset("cifar10", root=tmp_path)
    message = str(err.value)
    assert f"into {tmp_path}/" in message and images.CIFAR10_ARCHIVE in message and images.CIFAR10_FOLDER in message
    assert images.CIFAR10_URL in message


# --------------------------------------------------------------------- 11. NaN or inf in inputs
@pytest.mark.parametrize("where", ["data file", "training graphs", "training images"])
def test_non_finite_inputs_are_an_error_naming_the_array(tmp_path, where):
    """NaN in a PDE data file is refused on loading, naming the file, the array and the first bad
    index; inf in the PDE learner's graphs and NaN in the image learner's images are refused
    before any iteration, naming the array and index (no checkpoint is written)."""
    ckpt = tmp_path / "checkpoint.pt"
    if where == "data file":
        ds = solvers.dataset("Burgers", "valid", "smoke", root=tmp_path)
        u = ds["u"].values.copy()
        u[1, 5, 7] = np.nan
        path = solvers.data_path("Burgers", "valid", "smoke", tmp_path)
        io.write_netcdf(ds.assign(u=(ds["u"].dims, u, ds["u"].attrs)), path)
        with pytest.raises(ValueError, match=r"array 'u' holds 1 NaN or infinite values") as err:
            solvers.dataset("Burgers", "valid", "smoke", root=tmp_path)
        assert str(path) in str(err.value) and "(1, 5, 7)" in str(err.value)
    elif where == "training graphs":
        graphs = burgers_graphs()
        graphs[1, 3, 4, 2] = float("inf")
        with pytest.raises(ValueError, match=r"the training graphs hold 1 NaN or infinite values .*\(1, 3, 4, 2\)"):
            pde_learning.train("Burgers", graphs, PDE_RUN, ckpt, seed=1, log=None)
    else:
        x = _blobs(8, size=12)
        x[2, 0, 5, 6] = float("nan")
        with pytest.raises(ValueError, match=r"the training images x hold 1 NaN .*\(2, 0, 5, 6\)"):
            image_symmetries.learn_symmetries(
                _row_profile,
                x,
                generators.GeneratorField(2, 3, width=8, head_width=4),
                image_symmetries.image_inner_product(torch.ones(144), 12, 12),
                image_symmetries.ImageLearning(iterations=2),
                log=None,
                checkpoint=ckpt,
            )
    assert not ckpt.exists()


# ------------------------------------------------------------------------------ 12. a full disk
def _disk_full(path, *args, **kwargs):
    """A write that puts a few bytes into `path`, then fails as a full disk does (ENOSPC)."""
    with open(path, "wb") as f:
        f.write(b"partial")
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    return fig


def _writer_case(name: str, folder: Path):
    """(write: a call of the writer, (owner, attribute): the low-level write it uses, the final file name)."""
    import matplotlib.figure
    import xarray as xr

    table = pd.DataFrame({"a": [1, 2], "b": [0.5, 0.25]})
    if name == "write_text":
        return (lambda: io.write_text(folder / "a.txt", "text")), (Path, "write_text"), "a.txt"
    if name == "write_json":
        return (lambda: io.write_json(folder / "a.json", {"a": 1})), (Path, "write_text"), "a.json"
    if name == "write_netcdf":
        return (lambda: io.write_netcdf(table.to_xarray(), folder / "a.nc")), (xr.Dataset, "to_netcdf"), "a.nc"
    if name == "write_table":
        return (lambda: io.write_table(table, folder / "t")), (pd.DataFrame, "to_csv"), "t.csv"
    fig = _figure()
    return (lambda: io.save_figure(fig, folder / "f")), (matplotlib.figure.Figure, "savefig"), "f.png"


@pytest.mark.parametrize("writer", ["write_text", "write_json", "write_netcdf", "write_table", "save_figure"])
def test_disk_full_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch, writer):
    """Every atomic writer of `symflow.io`: when rewriting a file fails with ENOSPC half-way, the
    error is an OSError with errno ENOSPC naming the final file, the file already at that name is
    unchanged, and no temporary file remains."""
    write, (owner, attribute), final = _writer_case(writer, tmp_path)
    write()
    before = {p.name: _sha(p) for p in tmp_path.iterdir()}
    if attribute == "write_text":
        monkeypatch.setattr(owner, attribute, lambda self, *a, **k: _disk_full(self))
    else:
        monkeypatch.setattr(owner, attribute, lambda self, path, *a, **k: _disk_full(path))
    with pytest.raises(OSError) as err:
        write()
    assert err.value.errno == errno.ENOSPC and str(tmp_path / final) in str(err.value)
    assert {p.name: _sha(p) for p in tmp_path.iterdir()} == before


def test_disk_full_while_checkpointing_keeps_the_last_checkpoint(tmp_path, monkeypatch, one_thread):
    """The training loop's checkpoint of iteration 4 fails with ENOSPC half-way: training stops
    with that OSError naming the checkpoint, the checkpoint of iteration 2 is intact, no temporary
    remains; once there is room again, the rerun resumes and ends with an uninterrupted run's field."""
    reference, _, _ = _pde_training()
    ckpt = tmp_path / "checkpoint.pt"
    original, calls = torch.save, []

    def save_then_full(obj, f, *args, **kwargs):
        calls.append(f)
        return original(obj, f, *args, **kwargs) if len(calls) == 1 else _disk_full(f)

    monkeypatch.setattr(torch, "save", save_then_full)
    with pytest.raises(OSError) as err:
        _pde_training(ckpt)
    assert err.value.errno == errno.ENOSPC and str(ckpt) in str(err.value) and len(calls) == 2
    monkeypatch.setattr(torch, "save", original)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
    assert torch.load(ckpt, weights_only=False)["iteration"] == 2
    field, history, logs = _pde_training(ckpt)
    assert "resumed" in logs[0] and history.iteration.tolist() == list(range(6))
    for a, b in zip(reference.parameters(), field.parameters()):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-6)


# ------------------------------------------------------------------- the fault table is tested
def _test_ids(source: str) -> dict[str, set[str]]:
    """{test function name: its parametrize ids ({""} when not parametrised)} of a test module."""
    out = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test_")):
            continue
        ids = set()
        for deco in node.decorator_list:
            if isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "parametrize":
                for value in getattr(deco.args[1], "elts", []):
                    if isinstance(value, ast.Constant):
                        ids.add(str(value.value))
                    elif isinstance(value, ast.Call):
                        ids |= {k.value.value for k in value.keywords if k.arg == "id"}
        out[node.name] = ids or {""}
    return out


def test_every_fault_row_names_a_test_here():
    """Each row of tests/faults.csv (fault, test, expected outcome) names a test of this module,
    as `name` or `name[id]` with an id it is parametrised with; every test above is in the table."""
    rows = list(csv.DictReader(FAULTS_CSV.open()))
    assert rows and set(rows[0]) == {"fault", "test", "expected outcome"}
    tests = _test_ids(Path(__file__).read_text())
    named = set()
    for row in rows:
        name, _, rest = row["test"].partition("[")
        assert name in tests, f"faults.csv names {row['test']!r}, which is not a test of {Path(__file__).name}"
        assert rest.rstrip("]") in tests[name], f"faults.csv names {row['test']!r}: unknown id"
        assert row["fault"].strip() and row["expected outcome"].strip()
        named.add(name)
    assert set(tests) - named == {"test_every_fault_row_names_a_test_here", "test_report_prints_the_fault_table"}


def test_report_prints_the_fault_table(tmp_path):
    """results/README.md (report.build) has a "Faults tested" section with one row per CSV row;
    without the CSV there is no section."""
    text = report.build("smoke", tmp_path)
    rows = list(csv.DictReader(FAULTS_CSV.open()))
    assert "## Faults tested" in text
    for row in rows:
        assert f"| {row['fault']} | `{row['test']}` | {row['expected outcome']} |" in text
    assert "## Faults tested" not in "\n".join(report.faults_section(tmp_path / "none.csv"))
