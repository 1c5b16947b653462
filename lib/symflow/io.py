"""Reading and writing data and results without ever leaving a half-written file.

Every writer goes through `atomic_path`: the content is written to a temporary name in the same
folder and renamed over the target only when complete, so an interrupted run leaves the old file
(or nothing), never a truncated one.
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"


def results_root() -> Path:
    """Where results go: `results/` in the repository, or $SYMFLOW_RESULTS (the tests use a temporary one)."""
    return Path(os.environ.get("SYMFLOW_RESULTS", REPO / "results"))


def repo_relative(path: str | os.PathLike) -> str:
    """`path` as recorded in results: an absolute path inside the repository (as given or with its
    links resolved) becomes its POSIX path relative to the repository root ("." for the root); any
    other path (relative, or outside the repository) is returned unchanged, as a string."""
    path = Path(path)
    if not path.is_absolute():
        return str(path)
    for candidate in (Path(os.path.abspath(path)), path.resolve()):
        if candidate.is_relative_to(REPO):
            return candidate.relative_to(REPO).as_posix()
    return str(path)


def command_line(argv: list[str] | None = None) -> str:
    """The command that started this process, for a provenance record: `argv` (default
    `sys.argv`) shell-quoted, its first item written as `python -m <module>` when the process runs
    a module with `python -m`, else as `python <script>`, and every absolute path inside the
    repository among the items made relative to it (`repo_relative`); outside the repository an
    absolute path stays as it is."""
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        return ""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if argv == sys.argv and spec is not None and spec.name:
        program = ["python", "-m", spec.name.removesuffix(".__main__")]
    else:
        program = ["python", repo_relative(argv[0]) if os.path.isabs(argv[0]) else argv[0]]
    rest = [repo_relative(a) if os.path.isabs(a) else a for a in argv[1:]]
    return shlex.join(program + rest)


# Packages whose versions go into every provenance file.
TRACKED_PACKAGES = (
    "torch",
    "torchdiffeq",
    "numpy",
    "scipy",
    "xarray",
    "h5netcdf",
    "pandas",
    "matplotlib",
    "seaborn",
    "papermill",
    "sympy",
    "mlxtend",
)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; rename it to `path` if the block succeeds.

    The temporary name is `.<name>.<pid>.tmp` (git-ignored); those of `path` left by a writer that
    no longer runs (a killed run) are removed first. On an exception the temporary file is
    removed and the target is left untouched; an OSError without a file name (e.g. a full disk,
    ENOSPC) is raised again with `path` as its file name, same errno.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = stale.name[len(path.name) + 2 : -len(".tmp")]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        if err.errno is None or err.filename not in (None, str(tmp)):
            raise
        raise OSError(err.errno, err.strerror, str(path)) from err
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def exclusive(lock_path: str | os.PathLike, timeout: float = 7200.0, poll: float = 1.0, log=print):
    """Hold the lock file `lock_path` for the block: one process at a time, across processes.

    The lock is a file created exclusively (O_EXCL) holding the owner's pid, removed on exit. A
    lock whose owner no longer runs (a crashed run) is taken over. Raises TimeoutError after
    `timeout` seconds of waiting, naming the lock and its owner.
    """
    lock = Path(lock_path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    waited, told = 0.0, False
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            owner = _lock_owner(lock)
            if owner is not None and not _running(owner):
                lock.unlink(missing_ok=True)
                continue
            if waited >= timeout:
                raise TimeoutError(
                    f"{lock} is still held by process {owner} after {timeout:.0f} s; delete it if that process is gone"
                ) from None
            if not told and log:
                log(f"waiting for {lock} (held by process {owner})")
                told = True
            time.sleep(poll)
            waited += poll
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield lock
    finally:
        lock.unlink(missing_ok=True)


def _lock_owner(lock: Path) -> int | None:
    try:
        return int(lock.read_text() or "x")
    except (OSError, ValueError):
        return None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_text(path, text: str) -> Path:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
    return Path(path)


def write_json(path, obj) -> Path:
    """Write `obj` as indented JSON atomically (numpy scalars become Python numbers)."""
    return write_text(path, json.dumps(obj, indent=2, default=_jsonable) + "\n")


def settings_text(settings: dict) -> str:
    """A settings dict for reading in a notebook: one line per top-level key, `key: value` with
    the value as compact JSON (nested dicts and lists on the same line)."""
    return "\n".join(f"{key}: {json.dumps(value, default=_jsonable)}" for key, value in settings.items())


def _jsonable(x):
    if hasattr(x, "item"):
        return x.item()
    if hasattr(x, "tolist"):
        return x.tolist()
    return str(x)


def write_netcdf(ds, path) -> Path:
    """Write an xarray Dataset to NetCDF (h5netcdf engine) atomically."""
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return Path(path)


def read_netcdf(path, remedy: str = "delete it and produce it again"):
    """The NetCDF file `path` (h5netcdf engine) as an xarray Dataset loaded into memory, file closed.

    A file that cannot be read (truncated, random bytes, not NetCDF) raises a ValueError naming
    it, what the reader said, and `remedy`; a missing file is a FileNotFoundError.
    """
    import xarray as xr

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            return ds.load()
    except Exception as err:  # h5py/h5netcdf raise OSError, KeyError, ValueError, ... on damaged files
        raise ValueError(
            f"{path} cannot be read as NetCDF ({type(err).__name__}: {err}): it is truncated or damaged; {remedy}"
        ) from err


def write_table(df, path_stem) -> Path:
    """Write a pandas table as `<stem>.csv` (header row, no index column) atomically; return its path.

    Tables are CSV only; data with labelled dimensions (e.g. errors per trajectory and time step)
    are written as NetCDF with `write_netcdf`.
    """
    csv = Path(path_stem).with_suffix(".csv")
    with atomic_path(csv) as tmp:
        df.to_csv(tmp, index=False)
    return csv


def save_figure(fig, path_stem, pdf: bool = False) -> Path:
    """Save a matplotlib figure as `<stem>.png` (and `<stem>.pdf` when `pdf`)."""
    stem = Path(path_stem)
    for suffix in (".png", ".pdf") if pdf else (".png",):
        with atomic_path(stem.with_suffix(suffix)) as tmp:
            fig.savefig(tmp, dpi=120, bbox_inches="tight", format=suffix[1:])
    return stem.with_suffix(".png")


# What a run's result can depend on (tracked files under these paths), and the library modules that
# no run executes: the result readers (report, site, status) and the Dask sweep, which starts runs
# as separate processes. A change to one of those cannot change a result, so it is not
# "uncommitted code" of a run (tests/test_status.py checks that no run imports them).
CODE_PATHS = ("lib", "notebooks", "bench", "Makefile", "requirements.txt")
OUTSIDE_RUNS = (
    "lib/symflow/report.py",
    "lib/symflow/site.py",
    "lib/symflow/status.py",
    "lib/symflow/sweep.py",
)


def uncommitted_code() -> list[str] | None:
    """Tracked files under CODE_PATHS whose working-tree content differs from HEAD, less
    OUTSIDE_RUNS, sorted (None outside git)."""
    try:
        out = subprocess.run(
            ["git", "diff", "--name-only", "HEAD", "--", *CODE_PATHS],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return sorted(line for line in out.splitlines() if line and line not in OUTSIDE_RUNS)


def git_commit(uncommitted: list[str] | None = None) -> str:
    """The repository's HEAD commit, with '-dirty' when there is uncommitted code ('unknown'
    outside git). uncommitted: `uncommitted_code()`'s list when the caller has it already
    (None: it is computed here)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    if uncommitted is None:
        uncommitted = uncommitted_code()
    return head + ("-dirty" if uncommitted else "")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the numbers."""
    out = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def device_description(device: str = "cpu") -> str:
    """A human description of the compute device, e.g. 'cpu: x86_64, 2 threads' or the GPU name."""
    import torch

    if str(device).startswith("cuda") and torch.cuda.is_available():
        return f"{device}: {torch.cuda.get_device_name(torch.device(device))}"
    return f"cpu: {platform.machine()}, {torch.get_num_threads()} threads"


INPUTS_LOG = "SYMFLOW_INPUTS_LOG"


def note_input(path) -> Path:
    """Record that a result is computed from the file `path` (returns it): when the environment
    variable SYMFLOW_INPUTS_LOG names a file (the runner sets it for every notebook it executes),
    the absolute path is appended to it, one per line; the runner fingerprints them
    (`fingerprints`) into the run's provenance."""
    path = Path(path)
    log = os.environ.get(INPUTS_LOG)
    if log:
        with open(log, "a") as f:
            f.write(f"{path.resolve()}\n")
    return path


def sha256(path) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Global attributes of a NetCDF file that describe it (CF's global attributes, when, where and by
# which command it was made) rather than determine its content: left out of its fingerprint, so that
# regenerating identical data at another time or commit does not make the results read from it stale.
DESCRIPTIVE_ATTRIBUTES = (
    "Conventions",
    "title",
    "history",
    "source",
    "references",
    "generation_wall_time_s",
    "device",
    "created_utc",
)


def netcdf_sha256(path) -> str:
    """The SHA-256 of a NetCDF file's content: every variable's name, dtype, shape, raw values and
    attributes, and the global attributes less DESCRIPTIVE_ATTRIBUTES (hex). Two files with the
    same data written at different times have the same digest; any changed value changes it.
    Raises ValueError naming the file when it cannot be read as NetCDF."""
    import numpy as np
    import xarray as xr

    digest = hashlib.sha256()

    def add(*parts) -> None:
        for part in parts:
            digest.update(part if isinstance(part, bytes) else repr(part).encode())

    try:
        ds = xr.open_dataset(path, decode_cf=False, mask_and_scale=False, decode_times=False)
    except Exception as error:  # the engines raise several types for a damaged file
        raise ValueError(f"{path} cannot be read as NetCDF ({type(error).__name__}: {error})") from error
    with ds:
        add(sorted((k, str(v)) for k, v in ds.attrs.items() if k not in DESCRIPTIVE_ATTRIBUTES))
        for name in sorted(ds.variables, key=str):
            var = ds.variables[name]
            values = np.ascontiguousarray(var.values)
            add(str(name), str(values.dtype), values.shape, sorted((k, str(v)) for k, v in var.attrs.items()))
            add(values.tobytes() if values.dtype != object else repr(values.tolist()).encode())
    return digest.hexdigest()


def fingerprint(path) -> str:
    """A file's fingerprint for provenance: `netcdf_sha256` for a .nc file that reads as NetCDF,
    the SHA-256 of its bytes (`sha256`) for any other file (a damaged .nc file included)."""
    if Path(path).suffix == ".nc":
        with contextlib.suppress(ValueError):
            return netcdf_sha256(path)
    return sha256(path)


def fingerprints(paths) -> dict[str, str]:
    """{path relative to the repository (absolute outside it): `fingerprint`} of the existing files
    among `paths`, sorted, each once."""
    out = {}
    for p in sorted({Path(p).resolve() for p in paths}):
        if p.is_file():
            out[str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p)] = fingerprint(p)
    return out


def provenance(
    profile: str,
    parameters: dict,
    wall_time_s: float,
    device: str = "cpu",
    commit_at_start: str | None = None,
    settings: dict | None = None,
    inputs: dict[str, str] | None = None,
    dirty_files: list[str] | None = None,
    started_utc: datetime.datetime | None = None,
    command: str | None = None,
) -> dict:
    """The provenance record written beside every result: what ran, where, with what, when, how long.

    git_commit is the commit the run started from (`commit_at_start`, read by the caller before
    the run; else HEAD now); git_commit_at_end is HEAD when the record is written, so that a
    commit made while the run went on is visible as a difference between the two. settings: the
    resolved settings the run used; inputs: {file: SHA-256} of every input it read (`note_input`);
    dirty_files: `uncommitted_code()` when the run started (read by the caller; else now).
    started_utc, finished_utc: when the run began (`started_utc`, a timezone-aware datetime; else
    the time of writing less `wall_time_s`) and when the record is written, both ISO 8601 in UTC to
    the second (e.g. "2025-01-31T12:00:00+00:00"). command: the command that ran (else
    `command_line()`); it names no absolute path inside the repository.
    """
    now = git_commit()
    finished = datetime.datetime.now(datetime.timezone.utc)
    if started_utc is None:
        started_utc = finished - datetime.timedelta(seconds=float(wall_time_s))
    return {
        "git_commit": commit_at_start or now,
        "git_commit_at_end": now,
        "dirty_files": uncommitted_code() if dirty_files is None else list(dirty_files),
        "profile": profile,
        "parameters": parameters,
        "settings": settings,
        "inputs": inputs or {},
        "packages": package_versions(),
        "wall_time_s": round(float(wall_time_s), 2),
        "device": device_description(device),
        "command": command_line() if command is None else command,
        "started_utc": _utc(started_utc),
        "finished_utc": _utc(finished),
    }


def _utc(moment: datetime.datetime) -> str:
    """A timezone-aware datetime as ISO 8601 in UTC to the second; a naive one is an error."""
    if moment.tzinfo is None:
        raise ValueError(f"times in provenance must be timezone-aware; got {moment!r}")
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="seconds")
