"""Run the extra runs of `make evidence` as tasks on a Dask cluster.

    python -m symflow.sweep --profile quick [--device cpu] [--scheduler tcp://host:port] [--workers N]
                            [--notebooks 02_pde_symmetries ...] [--seeds 1 2] [--threads T] [--force]

`evidence_runs` is the one list of these runs (a seed run per evidence notebook and seed,
notebook 02 with six generators and notebook 03's full sweep); the Makefile's `make
evidence-list` prints its own list and the tests check that the two agree. Each run is one task
that starts `python -m symflow.runner` as a subprocess with exactly the arguments `make evidence`
gives it, so it writes into its own `.partial` folder and the runner merges it into
`results/<notebook>/<profile>/` as through make; the runner's checks apply to it (an unknown
notebook parameter is an error, `runner.check_parameters`, which `parse` also applies up front).

Without `--scheduler` the tasks go to a `LocalCluster` of `--workers` single-threaded worker
processes (default: one per core), each run with OMP_NUM_THREADS = cores // workers. With
`--scheduler` they go to an existing cluster; there each run gets `--threads` torch threads, or by
default the cores its worker process may use divided by that worker's threads (its runs at a time).
A run's stdout and stderr go to `<logs>/<profile>/<notebook>_<tag>.log` (default logs: the
git-ignored `scratch/logs/`). A failed run is reported with the tail of its log and does not stop
the others; after all have finished a summary table is printed, and the exit status is 1 if any
failed. As with make, a run whose executed notebook is newer than the notebook's default run is
current and skipped (`--force` reruns it).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from . import io, profiles, runner

# Notebooks with one extra run per seed (the Makefile's EVIDENCE_NOTEBOOKS), and the settings their
# seed runs add beside the seed (EVIDENCE_OVERRIDES_<nb>; none: notebook 02's acceptance checks use
# 3 seeds of every equation).
SEED_NOTEBOOKS = ("02_pde_symmetries", "04_image_symmetries")
SEED_OVERRIDES: dict[str, dict] = {}
# The notebook whose seed runs are split into one run per equation (tag seed<k>_<Eq>), as in the Makefile.
PER_EQUATION_NOTEBOOK = "02_pde_symmetries"
DEFAULT_SEEDS = (1, 2)

# Single extra runs of other settings, in the Makefile's order, as (notebook, tag, parameters):
# notebook 02 with six generators (the Makefile's COUNT_02), from which notebook 06 counts the
# symmetries, and notebook 03's full sweep (FULL_03), each in its own subfolder.
COUNT_02 = {"learn": {"n_generators": 6}}
FULL_03 = {
    "equations": ["KdV", "KS", "Burgers"],
    "sizes": [32, 128, 512],
    "curve_sizes": [],
    "single_time": {"equations": ["nKdV", "cKdV"]},
    "ckdv": {"sizes": [32, 128]},
    "ablation": {"sizes": [32, 128]},
}
SINGLE_RUNS = (
    ("02_pde_symmetries", "generators6", {"subfolder": "generators6", "overrides": COUNT_02}),
    ("03_pde_augmentation", "full", {"subfolder": "full", "overrides": FULL_03}),
)

# The notebooks of `evidence_runs` by default: SEED_NOTEBOOKS, then those of SINGLE_RUNS.
DEFAULT_NOTEBOOKS = tuple(dict.fromkeys((*SEED_NOTEBOOKS, *(nb for nb, _, _ in SINGLE_RUNS))))

LOGS = runner.SCRATCH / "logs"
TAIL_LINES = 30


@dataclass(frozen=True)
class Run:
    """One run of `symflow.runner`: `notebook` at `profile` on `device`, tagged `tag`, with the
    notebook parameters `parameters` (each passed as `-p key=<Python literal>`)."""

    notebook: str
    profile: str
    device: str
    tag: str
    parameters: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """`<notebook>_<tag>`: the stem of the run's executed notebook, log and provenance."""
        return f"{self.notebook}_{self.tag}"

    def argv(self) -> list[str]:
        """The runner's command-line arguments (after `python -m symflow.runner`)."""
        args = [self.notebook, "--profile", self.profile, "--device", self.device, "--tag", self.tag]
        for key, value in self.parameters.items():
            args += ["-p", f"{key}={value!r}"]
        return args

    def executed(self) -> Path:
        """The executed notebook the run leaves in `results/<notebook>/<profile>/`."""
        return runner.output_dir(self.notebook, self.profile) / f"{self.name}.ipynb"

    def is_current(self) -> bool:
        """True when the executed notebook exists and is not older than the notebook's default run
        (absent default runs count as old): make's rule for the evidence targets."""
        executed = self.executed()
        if not executed.exists():
            return False
        default = runner.output_dir(self.notebook, self.profile) / f"{self.notebook}.ipynb"
        return not default.exists() or executed.stat().st_mtime >= default.stat().st_mtime


def available_notebooks() -> list[str]:
    """Names of the numbered notebooks in notebooks/, sorted."""
    return sorted(p.stem for p in runner.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _split(notebook: str, profile: str) -> list[tuple[str, dict]]:
    """How one seed of `notebook` is split into runs, as (tag suffix, overrides): notebook 02 one
    run per equation of its profile (`_<Eq>`, {"equations": [Eq]}), any other notebook one run."""
    if notebook == PER_EQUATION_NOTEBOOK:
        return [(f"_{eq}", {"equations": [eq]}) for eq in profiles.get(profile, "pde_symmetries")["equations"]]
    return [("", {})]


def evidence_runs(
    profile: str, device: str = "cpu", notebooks: list[str] | None = None, seeds=DEFAULT_SEEDS
) -> list[Run]:
    """The extra runs of `make evidence`, in the Makefile's order.

    Args:
        profile: one of `profiles.PROFILES`.
        device: the runs' torch device (cpu, cuda, cuda:0, ...).
        notebooks: notebook names; each gives its SINGLE_RUNS, and one run per seed when it is
            one of SEED_NOTEBOOKS or has no single run. None: SEED_NOTEBOOKS then the notebooks
            of SINGLE_RUNS, those of them present in notebooks/.
        seeds: non-negative integer seeds of the seed runs (seed 0 is the default run's).

    Returns:
        One `Run` per (notebook, seed) of the seed notebooks (notebook 02: per (seed, equation),
        tagged seed<k>_<Eq>), then the single runs of the notebooks, in SINGLE_RUNS' order.

    Raises:
        ValueError: an unknown profile, a notebook not in notebooks/, or a seed that is not a
            non-negative integer.
    """
    profiles.check_profile(profile)
    known = available_notebooks()
    single_notebooks = [nb for nb, _, _ in SINGLE_RUNS]
    if notebooks is None:
        notebooks = [nb for nb in DEFAULT_NOTEBOOKS if nb in known]
    notebooks, seeds = list(dict.fromkeys(notebooks)), list(dict.fromkeys(seeds))
    unknown = [nb for nb in notebooks if nb not in known]
    if unknown:
        raise ValueError(f"notebooks must be among {known}; got {unknown}")
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int) or s < 0]
    if bad:
        raise ValueError(f"seeds must be non-negative integers; got {bad}")
    seeded = [
        Run(nb, profile, device, f"seed{s}{suffix}", {"overrides": {"seed": s, **extra, **SEED_OVERRIDES.get(nb, {})}})
        for nb in notebooks
        if nb in SEED_NOTEBOOKS or nb not in single_notebooks
        for s in seeds
        for suffix, extra in _split(nb, profile)
    ]
    single = [Run(nb, profile, device, tag, parameters) for nb, tag, parameters in SINGLE_RUNS if nb in notebooks]
    return seeded + single


@dataclass
class Outcome:
    """How a run ended: `status` is "ok", "failed" (the runner exited non-zero) or "error" (the task
    itself failed, e.g. its worker died); `tail` holds the last lines of the log when not ok."""

    run: Run
    status: str
    seconds: float
    log: Path
    tail: str = ""
    threads: int | None = None


def log_path(run: Run, logs: Path | None = None) -> Path:
    """Where a run's output goes: `<logs>/<profile>/<notebook>_<tag>.log` (logs: LOGS by default)."""
    return Path(LOGS if logs is None else logs) / run.profile / f"{run.name}.log"


def _tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(no log: {error})"


def _worker_threads() -> int:
    """Torch threads for a run on the calling Dask worker: the cores this process may use divided
    by the worker's threads (runs it executes at a time), at least 1."""
    from distributed import get_worker

    return max(1, cores() // max(1, get_worker().state.nthreads))


# Set by Dask's nanny in its workers (distributed's `nanny.pre-spawn-environ`) so that glibc returns
# freed memory to the system at once; inherited by a run, it makes torch's many small allocations
# page-fault again and again (notebook 02's learner: 0.19 s per iteration instead of 0.087).
NOT_INHERITED = ("MALLOC_TRIM_THRESHOLD_",)


def run_environment(environ) -> dict:
    """The environment a run gets from the process that starts it: `environ` less NOT_INHERITED."""
    return {k: v for k, v in environ.items() if k not in NOT_INHERITED}


def run_task(argv: list[str], log: str, threads: int | None = None, environment: dict | None = None) -> dict:
    """Run `python -m symflow.runner <argv>` from the repository root, output into `log` (a Dask
    task; also callable directly).

    Args:
        argv: the runner's arguments (`Run.argv()`).
        log: file for the run's stdout and stderr, replaced; its folder is created.
        threads: OMP_NUM_THREADS of the run; None: `_worker_threads()` (on a Dask worker).
        environment: further environment variables of the run (e.g. SYMFLOW_RESULTS).

    Returns:
        {"returncode", "seconds", "threads", "tail"} with the log's last lines when it failed.
    """
    threads = _worker_threads() if threads is None else threads
    env = {**run_environment(os.environ), **(environment or {}), "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "symflow.runner", *argv]
    path = Path(log)
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    with open(path, "w") as out:
        out.write(f"# OMP_NUM_THREADS={threads} {shlex.join(command)}\n")
        out.flush()
        code = subprocess.call(command, cwd=io.REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.time() - start
    return {"returncode": code, "seconds": seconds, "threads": threads, "tail": _tail(path) if code else ""}


def local_cluster(workers: int):
    """A `LocalCluster` of `workers` single-threaded worker processes (dashboard only when bokeh is
    installed)."""
    import importlib.util

    from distributed import LocalCluster

    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer; got {workers!r}")
    dashboard = ":0" if importlib.util.find_spec("bokeh") else None
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=dashboard)


def cores() -> int:
    """Cores this process may use (as `nproc`)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_sweep(runs: list[Run], client, threads: int | None = None, logs: Path | None = None, progress=print):
    """Run every run as a task of `client`'s cluster and wait for all of them.

    Args:
        runs: the runs; they must have distinct names.
        client: a connected `distributed.Client`.
        threads: OMP_NUM_THREADS of every run; None: decided on each worker (`_worker_threads`).
        logs: root of the log files (`log_path`).
        progress: called with one line per finished run (with counts) and the tail of a failed
            run's log.

    Returns:
        One `Outcome` per run, in the order of `runs`.
    """
    from distributed import as_completed

    names = [run.name for run in runs]
    if len(set(names)) != len(names):
        raise ValueError(f"runs must have distinct names; got {names}")
    environment = {"SYMFLOW_RESULTS": os.environ["SYMFLOW_RESULTS"]} if "SYMFLOW_RESULTS" in os.environ else {}
    batch = uuid.uuid4().hex[:8]
    futures = {}
    for run in runs:
        log = log_path(run, logs)
        future = client.submit(
            run_task, run.argv(), str(log), threads, environment, key=f"{run.name}-{batch}", pure=False
        )
        futures[future] = (run, log, time.time())
    outcomes, failed = {}, 0
    for done, future in enumerate(as_completed(futures), 1):
        run, log, submitted = futures[future]
        try:
            result = future.result()
            status = "ok" if result["returncode"] == 0 else "failed"
            outcome = Outcome(run, status, result["seconds"], log, result["tail"], result["threads"])
        except Exception as error:  # the task did not run to its end (worker lost, cancelled, ...)
            outcome = Outcome(run, "error", time.time() - submitted, log, f"{type(error).__name__}: {error}")
        outcomes[run.name] = outcome
        failed += outcome.status != "ok"
        progress(
            f"[{done}/{len(runs)}] {outcome.status:<6} {run.name} ({outcome.seconds:.0f} s)"
            f"  -- {done - failed} ok, {failed} failed, {len(runs) - done} to go"
        )
        if outcome.status != "ok":
            progress(f"    log {log}, last lines:\n" + "\n".join(f"    | {line}" for line in outcome.tail.splitlines()))
    return [outcomes[name] for name in names]


def summary(outcomes: list[Outcome]) -> str:
    """A plain-text table: run, status, seconds, log."""
    rows = [("run", "status", "seconds", "log")]
    rows += [(o.run.name, o.status, f"{o.seconds:.0f}", str(o.log)) for o in outcomes]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}".rstrip() for row in rows
    )


def exit_status(outcomes: list[Outcome]) -> int:
    """0 when every run ended ok, else 1."""
    return int(any(o.status != "ok" for o in outcomes))


def parse(argv=None) -> tuple[argparse.ArgumentParser, argparse.Namespace, list[Run]]:
    """The command line's parser, options and runs (`evidence_runs`); bad options exit with status 2
    and a message naming the option and its accepted values, and so does a run with a parameter
    its notebook does not have (`runner.check_parameters`, the check every runner makes)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", help=f"one of {profiles.PROFILES}")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:0, ...")
    parser.add_argument(
        "--scheduler", default=None, help="address of an existing Dask scheduler (tcp://host:port); default: local"
    )
    parser.add_argument("--workers", type=int, default=None, help="local workers (default: the number of cores)")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS of each run (default: see above)")
    parser.add_argument(
        "--notebooks",
        nargs="*",
        default=None,
        help=f"notebooks to run (default: {' '.join(DEFAULT_NOTEBOOKS)})",
    )
    parser.add_argument("--seeds", nargs="*", type=int, default=list(DEFAULT_SEEDS), help="seeds of the seed runs")
    parser.add_argument("--logs", type=Path, default=None, help=f"root of the log files (default: {LOGS})")
    parser.add_argument("--force", action="store_true", help="rerun runs that are current")
    args = parser.parse_args(argv)
    if args.scheduler and args.workers is not None:
        parser.error("--workers applies to the local cluster only; with --scheduler, scale that cluster instead")
    for name in ("workers", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be a positive integer; got {getattr(args, name)}")
    try:
        runs = evidence_runs(args.profile, args.device, args.notebooks, args.seeds)
        for run in runs:  # each run's runner checks this too; here it fails before a cluster starts
            runner.check_parameters(run.notebook, run.parameters, run.profile)
    except ValueError as error:
        parser.error(str(error))
    return parser, args, runs


def main(argv=None) -> int:
    """Run the command line's runs (see the module's docstring); return the exit status."""
    parser, args, runs = parse(argv)
    pending = [run for run in runs if args.force or not run.is_current()]
    for run in runs:
        if run not in pending:
            print(f"current: {run.name} ({run.executed()}); --force reruns it")
    if not pending:
        print("nothing to run")
        return 0

    from distributed import Client

    if args.scheduler:
        cluster, threads = None, args.threads
        try:
            client = Client(args.scheduler)
        except (OSError, ValueError) as error:
            parser.exit(2, f"--scheduler {args.scheduler}: no Dask scheduler reached ({error})\n")
    else:
        workers = args.workers or cores()
        threads = args.threads or max(1, cores() // workers)
        cluster = local_cluster(workers)
        client = Client(cluster)
    where = args.scheduler or f"a local cluster of {workers} workers, {threads} threads per run"
    print(f"{len(pending)} runs on {where}")
    try:
        outcomes = run_sweep(pending, client, threads, args.logs)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    print(summary(outcomes))
    return exit_status(outcomes)


if __name__ == "__main__":
    sys.exit(main())
