"""Which committed results are current: every run's provenance checked against HEAD and its inputs.

    python -m symflow.status [--profile quick]        (make status)

A run (one `provenance[_<tag>].json` under results/<notebook>/<profile>/) is *current* when the
code it ran is the code at HEAD and every input it read is unchanged; otherwise it is *stale*,
with each reason:

    dirty          it ran from a working tree whose code differed from its commit in a file of its
                   own code (below); a record without `dirty_files` counts as dirty in any file
    changed-during HEAD moved while it ran and the code differs between the two commits
    code           lib/, the notebook, the Makefile or requirements.txt changed since its commit
    input          an input file changed (its fingerprint in the provenance, `io.fingerprint`: the
                   content of a NetCDF file, the bytes of any other) or is gone
    unknown-commit its commit is not in this repository's history

"Code" of a run is RUN_CODE_PATHS with only this run's notebook of notebooks/, less the
modules that no run executes (`io.OUTSIDE_RUNS`: the result readers and the Dask sweep;
tests/test_status.py checks that nothing a run imports imports them).
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
from pathlib import Path

import pandas as pd

from . import io, profiles

RUN_CODE_PATHS = ("lib", "Makefile", "requirements.txt")


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(io.REPO), *args], capture_output=True, text=True)


def changed_code(commit: str, notebook: str, until: str = "HEAD") -> list[str] | None:
    """The code files that differ between `commit` and `until` (None: `commit` is unknown here)."""
    if _git("cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        return None
    out = _git("diff", "--name-only", commit, until, "--", *RUN_CODE_PATHS, f"notebooks/{notebook}.ipynb")
    return [line for line in out.stdout.splitlines() if is_run_code(line, notebook)]


def is_run_code(path: str, notebook: str) -> bool:
    """Whether the repository path `path` is code of a run of `notebook` (module docstring)."""
    if not path or path in io.OUTSIDE_RUNS:
        return False
    return path == f"notebooks/{notebook}.ipynb" or any(
        path == top or path.startswith(f"{top}/") for top in RUN_CODE_PATHS
    )


def check_run(record: dict, notebook: str, fingerprint=io.fingerprint) -> list[str]:
    """The reasons why the run described by `record` (a provenance dict) is stale; [] if current.
    fingerprint: path -> digest, `io.fingerprint` by default (`status` passes a memoised one, so
    that an input read by several runs is read once)."""
    reasons = []
    start = str(record.get("git_commit", "unknown"))
    commit = start.removesuffix("-dirty")
    dirty_files = record.get("dirty_files")
    if start.endswith("-dirty") and (dirty_files is None or any(is_run_code(f, notebook) for f in dirty_files)):
        listed = f" ({', '.join(dirty_files)})" if dirty_files else ""
        reasons.append(f"dirty: started from uncommitted code{listed}")
    changed = changed_code(commit, notebook)
    if changed is None:
        return reasons + [f"unknown-commit: {commit} is not in this repository's history"]
    end = str(record.get("git_commit_at_end", start)).removesuffix("-dirty")
    if end != commit:
        during = changed_code(commit, notebook, end)
        if during:
            reasons.append(f"changed-during: {', '.join(during[:3])}{' ...' if len(during) > 3 else ''}")
    if changed:
        reasons.append(f"code: {', '.join(changed[:3])}{' ...' if len(changed) > 3 else ''} changed since {commit[:8]}")
    for name, digest in (record.get("inputs") or {}).items():
        path = Path(name) if Path(name).is_absolute() else io.REPO / name
        if not path.is_file():
            reasons.append(f"input: {name} is gone")
        elif fingerprint(path) != digest:
            reasons.append(f"input: {name} changed")
    return reasons


def status(profile: str = "quick", root: Path | None = None) -> pd.DataFrame:
    """One row per run at `profile`: notebook, tag, commit, status (current / stale), reasons."""
    profiles.check_profile(profile)
    root = io.results_root() if root is None else Path(root)
    rows = []
    fingerprint = functools.lru_cache(maxsize=None)(io.fingerprint)  # each input read once per call
    for path in sorted(root.glob(f"*/{profile}/provenance*.json")):
        notebook = path.parent.parent.name
        record = json.loads(path.read_text())
        reasons = check_run(record, notebook, fingerprint)
        rows.append(
            {
                "notebook": notebook,
                "run": path.stem.removeprefix("provenance").lstrip("_") or "default",
                "commit": str(record.get("git_commit", ""))[:12],
                "status": "stale" if reasons else "current",
                "reasons": "; ".join(reasons),
            }
        )
    return pd.DataFrame(rows, columns=["notebook", "run", "commit", "status", "reasons"])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", help=f"one of {profiles.PROFILES}")
    args = parser.parse_args(argv)
    table = status(args.profile)
    if table.empty:
        print(f"no runs at profile {args.profile} under {io.results_root()}")
        return
    with pd.option_context("display.max_colwidth", 120, "display.width", 200):
        print(table.to_string(index=False))
    stale = int((table.status == "stale").sum())
    print(f"{len(table) - stale} current, {stale} stale")


if __name__ == "__main__":
    main()
