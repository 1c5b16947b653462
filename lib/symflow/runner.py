"""Execute one numbered notebook with papermill into `results/<notebook>/<profile>/`.

    python -m symflow.runner 00_generators_and_flows --profile quick [--device cuda]
    python -m symflow.runner 04_image_symmetries --profile quick --tag seed1 -p 'overrides={"seed": 1}'

The notebook runs with its working directory at the repository root and receives the parameters
`profile`, `device` and `output_dir` (plus any `-p key=value`). Every parameter passed must be one
of the notebook's (its cell tagged `parameters`): an unknown one is an error naming it and listing
the notebook's, raised before anything runs or is written (`check_parameters`). Paths the run
records are relative to the repository root where they lie inside it: the `output_dir` and any
other absolute path given as a parameter, the executed notebook's papermill metadata, the
notebook's view of the results folder ($SYMFLOW_RESULTS in its kernel), and the provenance's
`command` (`command_line`); paths outside the repository (e.g. a temporary results folder) stay
absolute. It writes into a private
`results/<notebook>/<profile>[.<tag>].partial/` folder; only when it finishes are that folder's
files moved into `results/<notebook>/<profile>/` (same names replaced, others kept), with the
executed notebook `<notebook>[_<tag>].ipynb` (and its HTML export with `--html`; `make site`
renders every executed notebook) and `provenance[_<tag>].json`; then the notebook's per-seed
tables are recombined (`combine_seed_tables`).
Runs with different tags (e.g. one per seed) are independent and may run in parallel; each
must give its own outputs distinct names (e.g. a `seed1/` sub-folder). A failed or interrupted
run keeps its `.partial` folder, so the next run with the same tag resumes from whatever
checkpoints the notebook left there.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime
import os
import shlex
import shutil
import time
from pathlib import Path

import pandas as pd

from . import io, profiles

NOTEBOOKS = io.REPO / "notebooks"


def output_dir(notebook: str, profile: str) -> Path:
    """Final results folder of a notebook at a profile: `<results root>/<notebook>/<profile>`."""
    return io.results_root() / notebook / profile


SCRATCH = io.REPO / "scratch"


def notebook_folder(notebook: str, profile: str, output_dir=None, log=print) -> Path:
    """Where a notebook writes, created: `output_dir` when given (the runner passes its private
    folder), else `scratch/<notebook>/<profile>/` (ignored by git), announced through `log`, so
    that a notebook run by hand in JupyterLab never overwrites the committed results."""
    if output_dir:
        folder = Path(output_dir)
    else:
        folder = SCRATCH / notebook / profile
        log(
            f"interactive run: writing to the scratch folder {folder} (not to the committed results; "
            f"`python -m symflow.runner {notebook} --profile {profile}` writes those)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# The settings entry (`symflow.profiles`) each notebook resolves from its `overrides`, recorded in
# its provenance.
NOTEBOOK_SETTINGS = {
    "00_generators_and_flows": "intro",
    "01_pde_data": "pde_data",
    "02_pde_symmetries": "pde_symmetries",
    "03_pde_augmentation": "pde_augmentation",
    "04_image_symmetries": "image_symmetries",
    "05_image_augmentation": "image_augmentation",
    "06_generator_algebra": "generator_algebra",
    "07_detector_benchmark": "detector_benchmark",
}


@contextlib.contextmanager
def _environment(name: str, value: str):
    """The environment variable `name` set to `value` for the block (the notebook's kernel
    inherits it), restored afterwards."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _merge(source: Path, target: Path) -> None:
    """Move every item of `source` into `target` (replacing same names), then remove `source`.

    Temporary files of `io.atomic_path` (`.<name>.<pid>.tmp`) still in `source`, left by a writer
    killed in an earlier, interrupted run, are deleted, not moved."""
    target.mkdir(parents=True, exist_ok=True)
    for stale in source.rglob(".*.tmp"):
        if stale.is_file():
            stale.unlink()
    for item in source.iterdir():
        destination = target / item.name
        if destination.is_dir():
            shutil.rmtree(destination)
        os.replace(item, destination)
    source.rmdir()


# Tables a notebook writes once per seed (<name>_seed<k>.csv) and also combined (<name>.csv). Runs
# of different seeds may execute at the same time (`make evidence JOBS=2`), and each combines the
# per-seed files it finds, so the last to finish can miss one: `run_notebook` recombines them
# after merging each run's outputs.
SEED_TABLES = {
    "04_image_symmetries": [
        "affine_fraction",
        "validity_comparison",
        "aff2_angles",
        "no_signal_share",
        "learning_curve",
    ]
}


def combine_seed_tables(notebook: str, profile: str, root: Path | None = None) -> list[Path]:
    """Rewrite each of `notebook`'s SEED_TABLES <name>.csv as the rows of all its
    <name>_seed*.csv, by seed; return the paths written."""
    folder = (io.results_root() if root is None else root) / notebook / profile
    written = []
    for name in SEED_TABLES.get(notebook, []):
        parts = sorted(folder.glob(f"{name}_seed*.csv"))
        if parts:
            table = pd.concat([pd.read_csv(p) for p in parts]).sort_values("seed", kind="stable")
            io.write_table(table.reset_index(drop=True), folder / name)
            written.append(folder / f"{name}.csv")
    return written


def _source(notebook: str) -> Path:
    """`notebooks/<notebook>.ipynb`; a ValueError listing the notebooks when there is none."""
    source = NOTEBOOKS / f"{notebook}.ipynb"
    if not source.exists():
        known = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
        raise ValueError(f"notebook must be one of {known}; got {notebook!r}")
    return source


def notebook_parameters(notebook: str) -> list[str]:
    """The names of `notebook`'s parameters, in the order of its cell tagged `parameters` (read by
    papermill without starting a kernel; [] when it has no such cell). Raises ValueError for an
    unknown notebook."""
    import papermill as pm

    return list(pm.inspect_notebook(str(_source(notebook))))


class UnknownParameterError(ValueError):
    """A parameter given to a notebook that the notebook does not have."""


def check_parameters(notebook: str, parameters: dict, profile: str = "quick") -> None:
    """Raise UnknownParameterError when a key of `parameters` is not one of `notebook_parameters`:
    its message names every unknown key and lists the notebook's parameters, and for a key that is
    a setting of the notebook's settings entry at `profile` it says to pass it in `overrides`.
    Nothing is run or written. Raises ValueError for an unknown notebook."""
    valid = notebook_parameters(notebook)
    unknown = [key for key in parameters if key not in valid]
    if not unknown:
        return
    names = ", ".join(repr(key) for key in unknown)
    message = (
        f"{notebook} has no parameter{'s' if len(unknown) > 1 else ''} {names}; "
        f"its parameters are: {', '.join(valid) if valid else '(none: it has no cell tagged parameters)'}"
    )
    experiment = NOTEBOOK_SETTINGS.get(notebook)
    if experiment and "overrides" in valid:
        settings = [key for key in unknown if key in profiles.get(profiles.check_profile(profile), experiment)]
        if settings:
            example = ", ".join(f'"{key}": ...' for key in settings)
            message += (
                f". {', '.join(settings)} {'is a setting' if len(settings) == 1 else 'are settings'} of "
                f"{experiment!r}: pass {'it' if len(settings) == 1 else 'them'} as -p 'overrides={{{example}}}'"
            )
    raise UnknownParameterError(message)


def _relative_parameters(parameters: dict) -> dict:
    """`parameters` with every string value that is an absolute path inside the repository made
    relative to it (`io.repo_relative`; the notebook runs there)."""
    return {k: io.repo_relative(v) if isinstance(v, str) and os.path.isabs(v) else v for k, v in parameters.items()}


def command_line(
    notebook: str,
    profile: str,
    device: str = "cpu",
    parameters: dict | None = None,
    tag: str | None = None,
    html: bool = False,
) -> str:
    """The shell command that repeats a `run_notebook` call, as its provenance records it:
    `python -m symflow.runner <notebook> --profile <profile> --device <device> [--tag <tag>]
    [--html] [-p key=value]...`, shell-quoted, from the repository root; each value reads back as
    the one given (`_literal`)."""
    args = ["python", "-m", "symflow.runner", notebook, "--profile", profile, "--device", device]
    if tag:
        args += ["--tag", tag]
    if html:
        args.append("--html")
    for key, value in (parameters or {}).items():
        args += ["-p", f"{key}={_literal(key, value)}"]
    return shlex.join(args)


def _literal(key: str, value) -> str:
    """How `-p key=...` gives `value` (read back by `_parse_parameter`): a string that is no Python
    literal as it is, anything else as its repr, with double quotes where that needs no escapes."""
    if isinstance(value, str) and _parse_parameter(f"{key}={value}")[1] == value:
        return value
    text = repr(value)
    return text.replace("'", '"') if '"' not in text else text


def _relative_metadata(executed: Path) -> None:
    """Rewrite the executed notebook's papermill metadata `input_path` and `output_path` relative
    to the repository (`io.repo_relative`), atomically."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    meta = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if meta.get(key):
            meta[key] = io.repo_relative(meta[key])
    io.write_text(executed, nbformat.writes(nb))


def run_notebook(
    notebook: str,
    profile: str,
    device: str = "cpu",
    parameters: dict | None = None,
    tag: str | None = None,
    html: bool = False,
    progress: bool = False,
) -> Path:
    """Execute `notebooks/<notebook>.ipynb` and return its final results folder.

    With `html`, an HTML export `<notebook>[_<tag>].html` is written beside the executed notebook.
    Before anything runs or is written: ValueError for an unknown profile or notebook,
    UnknownParameterError (a ValueError) for a parameter the notebook does not have
    (`check_parameters`), and ValueError for unknown or mistyped `overrides`.
    """
    import papermill as pm

    profiles.check_profile(profile)
    source = _source(notebook)
    parameters = _relative_parameters(parameters or {})
    check_parameters(notebook, {"profile": profile, "device": device, "output_dir": None, **parameters}, profile)
    final = output_dir(notebook, profile)
    suffix = f"_{tag}" if tag else ""
    partial = final.with_name(f"{profile}.{tag}.partial" if tag else f"{profile}.partial")
    params = {"profile": profile, "device": device, "output_dir": io.repo_relative(partial.absolute()), **parameters}
    executed = partial / f"{notebook}{suffix}.ipynb"
    experiment = NOTEBOOK_SETTINGS.get(notebook)
    # unknown or mistyped overrides fail here, before any folder is made or kernel started
    settings = profiles.resolved(profile, experiment, params.get("overrides")) if experiment else None
    partial.mkdir(parents=True, exist_ok=True)
    inputs_log = partial / f".inputs{suffix}"
    inputs_log.unlink(missing_ok=True)
    started_utc = datetime.datetime.now(datetime.timezone.utc)
    start, dirty = time.time(), io.uncommitted_code()
    commit = io.git_commit(dirty)
    # the kernel runs at the repository root and sees the results folder relative to it
    with (
        _environment(io.INPUTS_LOG, str(inputs_log)),
        _environment("SYMFLOW_RESULTS", io.repo_relative(io.results_root().absolute())),
    ):
        pm.execute_notebook(
            str(source),
            str(executed),
            parameters=params,
            kernel_name="python3",
            cwd=str(io.REPO),
            progress_bar=progress,
            log_output=progress,
        )
    wall = time.time() - start
    _relative_metadata(executed)
    read = inputs_log.read_text().split() if inputs_log.exists() else []
    inputs_log.unlink(missing_ok=True)
    written = {p.resolve() for p in partial.rglob("*")}
    inputs = io.fingerprints(p for p in read if Path(p).resolve() not in written)
    io.write_json(
        partial / f"provenance{suffix}.json",
        io.provenance(
            profile,
            {k: v for k, v in params.items() if k != "output_dir"},
            wall,
            device,
            commit_at_start=commit,
            settings=settings,
            inputs=inputs,
            dirty_files=dirty,
            started_utc=started_utc,
            command=command_line(notebook, profile, device, parameters, tag, html),
        ),
    )
    if html:
        import nbformat
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
        io.write_text(executed.with_suffix(".html"), body)
    _merge(partial, final)
    combine_seed_tables(notebook, profile)
    return final


def _parse_parameter(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"-p takes key=value; got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", help="notebook name without .ipynb, e.g. 00_generators_and_flows")
    parser.add_argument("--profile", default="quick", help=f"one of {profiles.PROFILES}")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:0, ...")
    parser.add_argument("--tag", default=None, help="name of an extra run (e.g. seed1) beside the default one")
    parser.add_argument(
        "-p",
        dest="params",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra notebook parameter (Python literal or string)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no streamed notebook output")
    parser.add_argument("--html", action="store_true", help="also write an HTML export of the executed notebook")
    args = parser.parse_args(argv)
    if not args.quiet:  # stream the notebook's own output (its training loops' lines) and a cell bar
        import logging

        logging.basicConfig(level=logging.INFO, format="%(message)s")
    parameters = dict(_parse_parameter(p) for p in args.params)
    try:  # an unknown profile, notebook or parameter: a usage error, before anything runs
        profiles.check_profile(args.profile)
        check_parameters(args.notebook, parameters, args.profile)
    except ValueError as error:
        parser.error(str(error))
    out = run_notebook(
        args.notebook,
        args.profile,
        args.device,
        parameters,
        args.tag,
        html=args.html,
        progress=not args.quiet,
    )
    print(f"{args.notebook} [{args.profile}] -> {out.relative_to(io.REPO) if out.is_relative_to(io.REPO) else out}")


if __name__ == "__main__":
    main()
