"""Execute one numbered notebook with papermill into `results/<notebook>/<profile>/`.

    python -m symflow.runner 00_generators_and_flows --profile quick [--device cuda]
    python -m symflow.runner 04_image_symmetries --profile quick --tag seed1 -p seed=1

The notebook runs with its working directory at the repository root and receives the parameters
`profile`, `device` and `output_dir` (plus any `-p key=value`). It writes into a private
`results/<notebook>/<profile>[.<tag>].partial/` folder; only when it finishes are that folder's
files moved into `results/<notebook>/<profile>/` (same names replaced, others kept), with the
executed notebook `<notebook>[_<tag>].ipynb`, its HTML export and `provenance[_<tag>].json`.
Runs with different tags (e.g. one per seed) are independent and may run in parallel; each
must give its own outputs distinct names (e.g. a `seed1/` sub-folder). A failed or interrupted
run keeps its `.partial` folder, so the next run with the same tag resumes from whatever
checkpoints the notebook left there.
"""
from __future__ import annotations

import argparse
import ast
import os
import shutil
import time
from pathlib import Path

from . import io, profiles

NOTEBOOKS = io.REPO / "notebooks"


def output_dir(notebook: str, profile: str) -> Path:
    """Final results folder of a notebook at a profile: `<results root>/<notebook>/<profile>`."""
    return io.results_root() / notebook / profile


def _merge(source: Path, target: Path) -> None:
    """Move every item of `source` into `target` (replacing same names), then remove `source`."""
    target.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        destination = target / item.name
        if destination.is_dir():
            shutil.rmtree(destination)
        os.replace(item, destination)
    source.rmdir()


def run_notebook(notebook: str, profile: str, device: str = "cpu", parameters: dict | None = None,
                 tag: str | None = None, html: bool = True) -> Path:
    """Execute `notebooks/<notebook>.ipynb` and return its final results folder."""
    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter

    profiles.check_profile(profile)
    source = NOTEBOOKS / f"{notebook}.ipynb"
    if not source.exists():
        known = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
        raise ValueError(f"notebook must be one of {known}; got {notebook!r}")
    final = output_dir(notebook, profile)
    suffix = f"_{tag}" if tag else ""
    partial = final.with_name(f"{profile}.{tag}.partial" if tag else f"{profile}.partial")
    partial.mkdir(parents=True, exist_ok=True)
    params = {"profile": profile, "device": device, "output_dir": str(partial), **(parameters or {})}
    executed = partial / f"{notebook}{suffix}.ipynb"
    start = time.time()
    pm.execute_notebook(str(source), str(executed), parameters=params, kernel_name="python3",
                        cwd=str(io.REPO), progress_bar=False, log_output=False)
    wall = time.time() - start
    io.write_json(partial / f"provenance{suffix}.json",
                  io.provenance(profile, {k: v for k, v in params.items() if k != "output_dir"},
                                wall, device))
    if html:
        body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
        io.write_text(executed.with_suffix(".html"), body)
    _merge(partial, final)
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
    parser.add_argument("-p", dest="params", action="append", default=[], metavar="KEY=VALUE",
                        help="extra notebook parameter (Python literal or string)")
    args = parser.parse_args(argv)
    out = run_notebook(args.notebook, args.profile, args.device,
                       dict(_parse_parameter(p) for p in args.params), args.tag)
    print(f"{args.notebook} [{args.profile}] -> {out.relative_to(io.REPO) if out.is_relative_to(io.REPO) else out}")


if __name__ == "__main__":
    main()
