"""Jobs in worker processes (symflow.parallel) and notebook 02's parallel training: the same
results as one after another, the workers' log lines reach the caller, errors reach the caller."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from symflow import parallel, profiles
from symflow.pde import pde_learning


def square_and_log(k: int, log=print) -> int:
    log(f"job {k} ran")
    return k * k


def log_lines_and_square(k: int, log=print) -> int:
    """Logs three lines, the last one just before returning (the line most likely to be still in the
    worker's queue feeder thread when the result reaches the caller)."""
    for part in ("started", "working", "done"):
        log(f"job {k} {part}")
    return k * k


def fail_on_two(k: int, log=print) -> int:
    if k == 2:
        raise ArithmeticError(f"job {k} failed on purpose")
    return k


def test_map_jobs_gives_results_in_order_and_forwards_every_log_line():
    lines: list[str] = []
    jobs = [(k,) for k in range(8)]
    results = parallel.map_jobs(log_lines_and_square, jobs, workers=2, log=lines.append, threads=2)
    assert results == [k * k for k in range(8)]
    assert sorted(lines) == sorted(f"job {k} {part}" for k in range(8) for part in ("started", "working", "done"))


def torch_threads(k: int, log=print) -> int:
    return torch.get_num_threads()


def test_the_callers_threads_are_shared_among_the_workers_started():
    # 4 workers asked for but only 2 jobs: the 2 workers started get 4 // 2 threads each
    assert parallel.map_jobs(torch_threads, [(0,), (1,)], workers=4, threads=4) == [2, 2]


def write_pid_and_wait(folder: str, log=print) -> None:
    """A job that never ends on its own: it writes its process id to a file in `folder`."""
    (Path(folder) / f"{os.getpid()}.pid").write_text("")
    time.sleep(300)


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_workers_exit_when_their_caller_is_killed(tmp_path):
    here = Path(__file__).parent
    code = (
        f"import sys; sys.path[:0] = [{str(here)!r}, {str(here.parent / 'lib')!r}]\n"
        "from symflow import parallel\nfrom test_parallel import write_pid_and_wait\n"
        f"parallel.map_jobs(write_pid_and_wait, [({str(tmp_path)!r},)] * 2, workers=2, threads=2)\n"
    )
    caller = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("*.pid"))) < 2 and time.monotonic() < deadline and caller.poll() is None:
            time.sleep(0.2)
        workers = [int(p.stem) for p in tmp_path.glob("*.pid")]
        assert len(workers) == 2 and all(_running(pid) for pid in workers)
    finally:
        caller.send_signal(signal.SIGKILL)
        caller.wait()
    deadline = time.monotonic() + 10 * parallel.PARENT_CHECK_SECONDS + 5
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_running(pid) for pid in workers)


def test_map_jobs_with_one_worker_runs_here():
    lines: list[str] = []
    assert parallel.map_jobs(square_and_log, [(3,), (4,)], workers=1, log=lines.append) == [9, 16]
    assert lines == ["job 3 ran", "job 4 ran"]


def test_an_error_in_a_worker_is_raised_in_the_caller():
    with pytest.raises(ArithmeticError, match="job 2 failed on purpose"):
        parallel.map_jobs(fail_on_two, [(1,), (2,), (3,)], workers=2, threads=2)


def fail_or_log_a_lot(k: int, log=print) -> int:
    """Job 0 fails at once; the others then log 300 KB, more than a pipe holds."""
    if k == 0:
        raise ArithmeticError("job 0 failed on purpose")
    time.sleep(0.5)
    for i in range(3000):
        log(f"job {k} line {i:04d} " + "x" * 90)
    return k


def test_the_lines_of_jobs_still_running_when_another_fails_all_arrive():
    lines: list[str] = []
    with pytest.raises(ArithmeticError, match="job 0 failed on purpose"):
        parallel.map_jobs(fail_or_log_a_lot, [(0,), (1,)], workers=2, log=lines.append, threads=2)
    assert [line[:15] for line in lines] == [f"job 1 line {i:04d}" for i in range(3000)]


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"])
def test_bad_workers_is_an_error_naming_it(workers):
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        parallel.map_jobs(square_and_log, [(1,)], workers=workers)


def test_workers_for_one_per_thread_at_most_one_per_job_and_one_on_an_accelerator():
    assert parallel.workers_for(5, "cpu", threads=2) == 2
    assert parallel.workers_for(1, "cpu", threads=2) == 1
    assert parallel.workers_for(5, "cpu", threads=1) == 1
    assert parallel.workers_for(5, "cuda", threads=16) == 1
    assert parallel.workers_for(0, "cpu", threads=2) == 1


def test_train_equations_in_two_processes_equals_one_after_another(tmp_path, one_thread):
    learn = profiles.get("smoke", "pde_symmetries")["learn"]
    names = ["KdV", "Burgers"]
    runs = {}
    for workers in (1, 2):
        folder = tmp_path / f"workers{workers}"
        folder.mkdir()
        lines: list[str] = []
        runs[workers] = pde_learning.train_equations(
            names, "smoke", learn, {n: folder / f"{n}.pt" for n in names}, seed=0, workers=workers, log=lines.append
        )
        assert any(line.startswith("KdV seed 0 it") for line in lines)
        assert any(line.startswith("Burgers seed 0 it") for line in lines)
    for name in names:
        one, two = runs[1][name], runs[2][name]
        pd.testing.assert_frame_equal(one[1].drop(columns="seconds"), two[1].drop(columns="seconds"))
        for (key, a), b in zip(one[0].state_dict().items(), two[0].state_dict().values()):
            assert torch.equal(a, b), key


def test_train_equations_needs_a_checkpoint_for_every_equation(tmp_path):
    learn = profiles.get("smoke", "pde_symmetries")["learn"]
    with pytest.raises(ValueError, match=r"checkpoints has no path for \['KS'\]"):
        pde_learning.train_equations(["KdV", "KS"], "smoke", learn, {"KdV": tmp_path / "a.pt"})
