"""Independent jobs in worker processes that share the machine's cores, their log lines
forwarded to the caller (so a notebook shows the workers' progress as its own output).

    results = map_jobs(fn, jobs, workers, log=print)       # [fn(*job, log=...) for job in jobs]
    workers_for(n_jobs, device)                             # how many workers to ask for

Small models on a CPU are dispatch-bound: one process at two threads runs barely faster than at
one, while two one-thread processes run side by side at almost full speed each. So on the CPU
`workers_for` gives one worker per torch thread of the caller (at most one per job), and each
worker runs with `threads // workers` torch threads.

Contract of `fn`: a function importable by name (module level; the workers are started by
"spawn", which imports it afresh), called as fn(*job, log=callable) where `log(str)` prints the
line in the caller (every line a job logs has been passed to the caller's `log`, in the caller's
thread, by the time map_jobs returns or raises); its result must pickle (plain Python, numpy,
pandas, bytes). An exception in a job is raised in the caller after the running jobs finish;
jobs not yet started are cancelled. The workers import `profiles.extra_modules()` first, so
equations a user registered in a module of their own are known there too. A worker whose caller
has died (killed, so that the pool could not shut it down) exits within `PARENT_CHECK_SECONDS`
instead of computing on for nobody.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from typing import Callable, Sequence

from . import profiles

_LOG_QUEUE = None  # set in each worker by _start_worker
PARENT_CHECK_SECONDS = 1.0  # how often a worker checks that its caller is alive


def workers_for(n_jobs: int, device="cpu", threads: int | None = None) -> int:
    """Workers for `n_jobs` independent jobs: on "cpu", one per torch thread of this process
    (`threads`, default torch.get_num_threads()), at most n_jobs; on any other device 1 (the jobs
    share one accelerator)."""
    if n_jobs < 1:
        return 1
    if str(device) != "cpu":
        return 1
    return max(1, min(_threads(threads), n_jobs))


def _threads(threads: int | None) -> int:
    """`threads`, or this process's torch threads when it is None."""
    if threads is None:
        import torch

        return torch.get_num_threads()
    return int(threads)


def _exit_when_orphaned(parent: int) -> None:
    """Exit this process (status 1) as soon as its parent is no longer `parent` (it died and the
    process was re-parented); checked every PARENT_CHECK_SECONDS in a daemon thread."""
    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(PARENT_CHECK_SECONDS)


def _start_worker(log_queue, threads: int, extra_modules: tuple[str, ...], parent: int) -> None:
    global _LOG_QUEUE
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    _LOG_QUEUE = log_queue
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ[profiles.ENV_EXTRA_MODULES] = ",".join(extra_modules)
    import torch

    torch.set_num_threads(threads)


def _queue_log(line: str) -> None:
    _LOG_QUEUE.put(str(line))


def _call(fn: Callable, job: tuple):
    return fn(*job, log=_queue_log)


def _drain(log_queue, log) -> None:
    """Forward every line that can be read from `log_queue` now, without waiting."""
    while True:
        try:
            line = log_queue.get_nowait()
        except queue_module.Empty:
            return
        log(line)


def _shut_down(pool: ProcessPoolExecutor, log_queue, log) -> None:
    """Shut `pool` down, waiting for its running jobs and for its workers to exit, forwarding their
    lines meanwhile; then forward the last ones.

    A worker's `log_queue.put` hands the line to the queue's feeder thread, which may still hold it
    when the job's result has reached the caller; a worker process joins its feeder thread before
    it exits, so once every worker has exited each line it logged is in the queue's pipe, and the
    final drain reads them all. The shutdown runs in a helper thread while this thread forwards
    lines (so `log` is always called from the caller's thread), so that a worker whose feeder
    waits on a full pipe is never left waiting for a reader that waits for it to exit.
    """
    closer = threading.Thread(target=pool.shutdown, kwargs={"wait": True}, name="map_jobs-shutdown", daemon=True)
    closer.start()
    while closer.is_alive():
        closer.join(0.1)
        _drain(log_queue, log)
    _drain(log_queue, log)


def map_jobs(fn: Callable, jobs: Sequence[tuple], workers: int, log=print, threads: int | None = None) -> list:
    """[fn(*job, log=...) for job in jobs], run by `workers` spawned processes (module docstring).

    workers <= 1 (or a single job) runs the jobs here, in order, with `log` itself. threads: torch
    threads of the caller to share out (default torch.get_num_threads()); the min(workers, len(jobs))
    workers started get max(1, threads // started) each. Raises ValueError for a workers that is not a positive integer.
    """
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive integer; got {workers!r}")
    log = log or (lambda line: None)
    jobs = [tuple(job) for job in jobs]
    if workers == 1 or len(jobs) <= 1:
        return [fn(*job, log=log) for job in jobs]
    started = min(workers, len(jobs))
    context = multiprocessing.get_context("spawn")
    log_queue = context.Queue()
    each = max(1, _threads(threads) // started)
    pool = ProcessPoolExecutor(
        max_workers=started,
        mp_context=context,
        initializer=_start_worker,
        initargs=(log_queue, each, profiles.extra_modules(), os.getpid()),
    )
    try:
        futures = [pool.submit(_call, fn, job) for job in jobs]
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
            _drain(log_queue, log)
            if any(f.exception() is not None for f in done):
                for f in pending:
                    f.cancel()
                break
    finally:
        _shut_down(pool, log_queue, log)
    failed = [f for f in futures if not f.cancelled() and f.exception() is not None]
    if failed:
        raise failed[0].exception()
    return [f.result() for f in futures]
