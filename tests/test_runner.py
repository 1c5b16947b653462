"""The runner's bookkeeping: per-seed result tables, the notebook's parameters checked before a run,
provenance with start and end times and no machine paths."""

import datetime
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from symflow import io, runner


def test_seed_tables_are_recombined_from_every_seed(tmp_path):
    """A combined table written while another seed ran (here: seed 1 missing) is rebuilt whole."""
    folder = tmp_path / "04_image_symmetries" / "quick"
    folder.mkdir(parents=True)
    for seed in (2, 0, 1):
        pd.DataFrame({"seed": seed, "generator": [1, 2], "validity": [0.1 * seed, 0.2]}).to_csv(
            folder / f"affine_fraction_seed{seed}.csv", index=False
        )
    pd.DataFrame({"seed": [0, 2], "generator": [1, 1], "validity": [0.0, 0.2]}).to_csv(
        folder / "affine_fraction.csv", index=False
    )
    assert runner.combine_seed_tables("04_image_symmetries", "quick", tmp_path) == [folder / "affine_fraction.csv"]
    table = pd.read_csv(folder / "affine_fraction.csv")
    assert table.seed.tolist() == [0, 0, 1, 1, 2, 2] and table.generator.tolist() == [1, 2] * 3
    assert not (folder / "affine_fraction.nc").exists(), "tables are CSV only"


def test_notebook_folder_is_scratch_outside_the_runner(tmp_path, monkeypatch):
    """A notebook run by hand (no output_dir) writes into the git-ignored scratch folder and says so;
    the runner's private folder is used as given."""
    monkeypatch.setattr(runner, "SCRATCH", tmp_path / "scratch")
    said = []
    folder = runner.notebook_folder("04_image_symmetries", "quick", None, log=said.append)
    assert folder == tmp_path / "scratch" / "04_image_symmetries" / "quick" and folder.is_dir()
    assert "scratch" in said[0] and "not to the committed results" in said[0]
    given = runner.notebook_folder("04_image_symmetries", "quick", tmp_path / "run.partial", log=said.append)
    assert given == tmp_path / "run.partial" and given.is_dir() and len(said) == 1


# --------------------------------------------------------------- parameters the notebook does not have
def _never_executed(*args, **kwargs):
    raise AssertionError("papermill was called")


def test_an_unknown_parameter_stops_the_run_before_anything_runs_or_is_written(tmp_path, monkeypatch):
    """The error names the unknown parameter, lists the notebook's own and says where a setting
    goes; no notebook is executed and no results folder is made."""
    import papermill

    monkeypatch.setenv("SYMFLOW_RESULTS", str(tmp_path / "results"))
    monkeypatch.setattr(papermill, "execute_notebook", _never_executed)
    with pytest.raises(runner.UnknownParameterError) as error:
        runner.run_notebook("02_pde_symmetries", "smoke", parameters={"equations": ["KdV2"]})
    said = str(error.value)
    assert "02_pde_symmetries has no parameter 'equations'" in said
    assert "its parameters are: profile, device, output_dir, overrides, subfolder" in said
    assert "pass it as -p 'overrides={\"equations\": ...}'" in said
    with pytest.raises(ValueError, match=r"has no parameters 'seed', 'nope'; its parameters are: profile, device"):
        runner.run_notebook("00_generators_and_flows", "smoke", parameters={"seed": 1, "nope": 2})
    assert not (tmp_path / "results").exists()


def test_the_command_line_rejects_an_unknown_parameter_with_a_usage_error(tmp_path):
    """`python -m symflow.runner 02_pde_symmetries -p "equations=['KdV2']"` exits with status 2 and
    the message; nothing is written."""
    env = {**os.environ, "SYMFLOW_RESULTS": str(tmp_path / "results"), "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(io.REPO / "lib"), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "symflow.runner", "02_pde_symmetries", "--profile", "smoke"]
    done = subprocess.run(
        [*command, "--quiet", "-p", "equations=['KdV2']"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert "02_pde_symmetries has no parameter 'equations'" in done.stderr
    assert "its parameters are: profile, device, output_dir, overrides, subfolder" in done.stderr
    assert not (tmp_path / "results").exists()


def test_notebook_parameters_are_read_from_the_tagged_cell():
    assert runner.notebook_parameters("03_pde_augmentation") == [
        "profile",
        "device",
        "output_dir",
        "generators_dir",
        "threads",
        "overrides",
        "subfolder",
    ]
    with pytest.raises(ValueError, match="notebook must be one of"):
        runner.notebook_parameters("99_nope")


# --------------------------------------------------------------- provenance: start time, relative paths
NOTEBOOK = "03_pde_augmentation"


@pytest.fixture
def repository(tmp_path, monkeypatch):
    """A stand-in repository root in `tmp_path` (not a git repository) holding NOTEBOOK, with the
    default results folder inside it; papermill's execution replaced by `fake`, which records its
    call, writes a table into the output_dir (relative to the kernel's cwd) and an executed
    notebook with papermill's path metadata."""
    import nbformat
    import papermill

    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    shutil.copy(runner.NOTEBOOKS / f"{NOTEBOOK}.ipynb", repo / "notebooks")
    monkeypatch.setattr(io, "REPO", repo)
    monkeypatch.setattr(runner, "NOTEBOOKS", repo / "notebooks")
    monkeypatch.delenv("SYMFLOW_RESULTS", raising=False)
    calls = []

    def fake(input_path, output_path, parameters, kernel_name, cwd, progress_bar, log_output):
        calls.append({"parameters": parameters, "cwd": cwd, "results": os.environ.get("SYMFLOW_RESULTS")})
        (Path(cwd) / parameters["output_dir"] / "table.csv").write_text("a\n1\n")
        nb = nbformat.v4.new_notebook()
        nb.metadata["papermill"] = {"input_path": input_path, "output_path": output_path, "parameters": parameters}
        nbformat.write(nb, output_path)

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    return repo, calls


def test_provenance_records_start_and_end_and_no_machine_paths(repository):
    repo, calls = repository
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    generators = repo / "results" / "02_pde_symmetries" / "smoke"
    out = runner.run_notebook(NOTEBOOK, "smoke", parameters={"generators_dir": str(generators)}, tag="t1")
    after = datetime.datetime.now(datetime.timezone.utc)
    assert out == repo / "results" / NOTEBOOK / "smoke" and (out / "table.csv").exists()

    # the kernel works at the repository root and is given paths relative to it
    (call,) = calls
    assert call["cwd"] == str(repo) and call["results"] == "results"
    assert call["parameters"]["output_dir"] == f"results/{NOTEBOOK}/smoke.t1.partial"
    assert call["parameters"]["generators_dir"] == "results/02_pde_symmetries/smoke"

    record = json.loads((out / "provenance_t1.json").read_text())
    started = datetime.datetime.fromisoformat(record["started_utc"])
    finished = datetime.datetime.fromisoformat(record["finished_utc"])
    assert started.utcoffset() == finished.utcoffset() == datetime.timedelta(0)
    assert before <= started <= finished <= after
    assert record["command"] == (
        f"python -m symflow.runner {NOTEBOOK} --profile smoke --device cpu --tag t1 "
        "-p generators_dir=results/02_pde_symmetries/smoke"
    )
    assert not any(word.startswith("/") or "=/" in word for word in shlex.split(record["command"]))
    assert record["parameters"]["generators_dir"] == "results/02_pde_symmetries/smoke"

    meta = json.loads((out / f"{NOTEBOOK}_t1.ipynb").read_text())["metadata"]["papermill"]
    assert meta["input_path"] == f"notebooks/{NOTEBOOK}.ipynb"
    assert meta["output_path"] == f"results/{NOTEBOOK}/smoke.t1.partial/{NOTEBOOK}_t1.ipynb"
    for written in out.iterdir():
        assert str(repo) not in written.read_text(), written


def test_results_outside_the_repository_keep_absolute_paths(repository, tmp_path, monkeypatch):
    """A results folder outside the repository (the tests' temporary one) cannot be named relative
    to it: the kernel gets it as it is."""
    repo, calls = repository
    monkeypatch.setenv("SYMFLOW_RESULTS", str(tmp_path / "elsewhere"))
    runner.run_notebook(NOTEBOOK, "smoke")
    assert calls[0]["results"] == str(tmp_path / "elsewhere")
    assert calls[0]["parameters"]["output_dir"] == str(tmp_path / "elsewhere" / NOTEBOOK / "smoke.partial")


def test_provenance_without_a_start_time_dates_it_by_the_wall_time():
    record = io.provenance("quick", {}, 90.0, command="python bench/x.py")
    started = datetime.datetime.fromisoformat(record["started_utc"])
    finished = datetime.datetime.fromisoformat(record["finished_utc"])
    assert abs((finished - started).total_seconds() - 90) <= 1 and record["command"] == "python bench/x.py"
    with pytest.raises(ValueError, match="timezone-aware"):
        io.provenance("quick", {}, 1.0, started_utc=datetime.datetime(2025, 1, 1))


def test_command_line_names_paths_in_the_repository_relative_to_it():
    script = str(io.REPO / "bench" / "bench_solvers.py")
    out = str(io.REPO / "results" / "bench" / "solvers.json")
    assert io.command_line([script, "--out", out, "/elsewhere/x"]) == (
        "python bench/bench_solvers.py --out results/bench/solvers.json /elsewhere/x"
    )
    assert io.repo_relative(io.REPO) == "." and io.repo_relative("results/x") == "results/x"


@pytest.mark.parametrize(
    "value", ["generators6", "it's", "1", 'say "hi"', 3, 0.5, None, True, [1, 2], {"seed": 1, "learn": {"x": "a'b"}}]
)
def test_a_recorded_command_gives_each_parameter_back_as_it_was(value):
    words = shlex.split(runner.command_line("00_generators_and_flows", "smoke", parameters={"p": value}))
    flag, item = words[-2:]
    assert flag == "-p" and runner._parse_parameter(item) == ("p", value)


def test_settings_text_gives_one_line_per_top_level_setting_that_reads_back():
    settings = {"equations": ["KdV", "KS"], "fit": {"lr": 0.002, "schedule": "cosine"}, "seed": np.int64(3)}
    lines = io.settings_text(settings).splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == ["equations", "fit", "seed"]
    assert json.loads(lines[1].split(": ", 1)[1]) == settings["fit"] and lines[2] == "seed: 3"
