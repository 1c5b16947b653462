"""The Dask path of `make evidence` (symflow.sweep) runs the Makefile's list of runs, each in its own
results folder; a failed run is reported with its log and does not stop the others."""

import os
import shlex
import subprocess

import pytest

from symflow import io, runner, sweep

# The make variables of a sub-make (pytest under `make test`) would leak into the make calls here.
MAKE_ENV = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}


def _parsed(args: list[str]) -> list:
    """Runner arguments with each -p value parsed as the runner parses it."""
    out, items = [], iter(args)
    for arg in items:
        out.append(("-p", runner._parse_parameter(next(items))) if arg == "-p" else arg)
    return out


def _make(*args: str) -> list[list[str]]:
    """Each output line of `make -s <args>`, split as the shell splits it."""
    done = subprocess.run(
        ["make", "-s", "--no-print-directory", *args], cwd=io.REPO, env=MAKE_ENV, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return [shlex.split(line) for line in done.stdout.splitlines() if line.strip()]


VARIANTS = [
    {},
    {"PROFILE": "smoke", "DEVICE": "cuda", "EVIDENCE_SEEDS": "3 1"},
    {"EVIDENCE_NOTEBOOKS": "04_image_symmetries", "EVIDENCE_SEEDS": "1 2 3"},
]


@pytest.mark.parametrize("variables", VARIANTS)
def test_the_dask_path_runs_the_makefiles_list_of_runs(variables):
    """`make evidence SCHEDULER=local` hands symflow.sweep options whose runs are, in order and with
    the same runner arguments, the runs that `make evidence` builds (`make evidence-list`)."""
    assignments = [f"{k}={v}" for k, v in variables.items()]
    made = [_parsed(line) for line in _make("evidence-list", *assignments)]
    # PY=echo: even were a line run, it would only be printed
    dry = _make("-n", "evidence", "-o", "reproduce", "SCHEDULER=local", "PY=echo", *assignments)
    (command,) = [line for line in dry if "symflow.sweep" in line]
    _, _, runs = sweep.parse(command[command.index("symflow.sweep") + 1 :])
    assert [_parsed(run.argv()) for run in runs] == made and len(made) >= 3


def test_default_runs_are_the_evidence_runs():
    runs = sweep.evidence_runs("quick")
    assert [run.name for run in runs] == [
        *(f"02_pde_symmetries_seed{s}_{eq}" for s in (1, 2) for eq in ("KdV", "KS", "Burgers", "nKdV", "cKdV")),
        "04_image_symmetries_seed1",
        "04_image_symmetries_seed2",
        "02_pde_symmetries_generators6",
        "03_pde_augmentation_full",
    ]
    assert runs[0].parameters == {"overrides": {"seed": 1, "equations": ["KdV"]}}  # one equation per run
    assert runs[10].parameters == {"overrides": {"seed": 1}}
    assert runs[12].parameters == {"subfolder": "generators6", "overrides": {"learn": {"n_generators": 6}}}


def test_a_run_is_current_when_newer_than_the_default_run(tmp_path, monkeypatch):
    """make's rule: the executed notebook exists and is not older than the notebook's default run."""
    monkeypatch.setenv("SYMFLOW_RESULTS", str(tmp_path))
    (run,) = sweep.evidence_runs("smoke", notebooks=["04_image_symmetries"], seeds=[1])
    assert run.executed() == tmp_path / "04_image_symmetries" / "smoke" / "04_image_symmetries_seed1.ipynb"
    assert not run.is_current()
    run.executed().parent.mkdir(parents=True)
    run.executed().touch()
    assert run.is_current()
    default = run.executed().with_name("04_image_symmetries.ipynb")
    default.touch()
    os.utime(run.executed(), (1, 1))
    assert not run.is_current()


def test_bad_input_names_the_parameter_and_the_accepted_values(capsys):
    with pytest.raises(ValueError, match="profile must be one of smoke, quick, paper"):
        sweep.evidence_runs("fast")
    with pytest.raises(ValueError, match=r"notebooks must be among \[.*'04_image_symmetries'.*\]; got \['nope'\]"):
        sweep.evidence_runs("smoke", notebooks=["nope"])
    with pytest.raises(ValueError, match="seeds must be non-negative integers; got"):
        sweep.evidence_runs("smoke", seeds=[-1])
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        sweep.local_cluster(0)
    for argv, said in [
        (["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "--workers applies to the local cluster only"),
        (["--workers", "0"], "--workers must be a positive integer"),
        (["--notebooks", "nope"], "notebooks must be among"),
    ]:
        with pytest.raises(SystemExit) as exit:
            sweep.main(argv)
        assert exit.value.code == 2 and said in capsys.readouterr().err


def test_every_evidence_run_passes_the_runners_parameter_check_and_an_unknown_one_stops_the_sweep(capsys, monkeypatch):
    """The runs the sweep hands the runner have only parameters their notebooks have; a run with one
    they lack stops `symflow.sweep` with the runner's message before a cluster starts."""
    for run in sweep.evidence_runs("quick"):
        runner.check_parameters(run.notebook, run.parameters, run.profile)
    bad = (("02_pde_symmetries", "generators6", {"equations": ["KdV2"], "overrides": {}}),)
    monkeypatch.setattr(sweep, "SINGLE_RUNS", bad)
    with pytest.raises(SystemExit) as exit:
        sweep.parse(["--notebooks", "02_pde_symmetries", "--seeds"])
    said = capsys.readouterr().err
    assert exit.value.code == 2 and "02_pde_symmetries has no parameter 'equations'" in said
    assert "its parameters are: profile, device, output_dir, overrides, subfolder" in said


@pytest.mark.notebook
def test_two_workers_run_two_notebooks_and_report_a_failed_run(tmp_path, monkeypatch):
    """Three tasks on a two-worker LocalCluster at smoke: a run with an unknown setting fails and is
    reported with its log; the two others finish, each merged into its own results folder."""
    from distributed import Client

    monkeypatch.setenv("SYMFLOW_RESULTS", str(tmp_path / "results"))
    bad = sweep.Run("00_generators_and_flows", "smoke", "cpu", "bad", {"overrides": {"seed": 1, "no_such_key": 1}})
    good = [
        sweep.Run("00_generators_and_flows", "smoke", "cpu", "seed1", {"overrides": {"seed": 1}}),
        *sweep.evidence_runs("smoke", notebooks=["04_image_symmetries"], seeds=[1]),
    ]
    lines = []
    threads = max(1, sweep.cores() // 2)
    with sweep.local_cluster(2) as cluster, Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        outcomes = sweep.run_sweep([bad, *good], client, threads, tmp_path / "logs", progress=lines.append)

    assert [o.status for o in outcomes] == ["failed", "ok", "ok"], sweep.summary(outcomes)
    for run in good:
        folder = tmp_path / "results" / run.notebook / "smoke"
        assert run.executed() == folder / f"{run.name}.ipynb" and run.executed().exists()
        assert (folder / f"provenance_{run.tag}.json").exists()
        assert not (folder.parent / f"smoke.{run.tag}.partial").exists()
    log = tmp_path / "logs" / "smoke" / "00_generators_and_flows_bad.log"
    assert outcomes[0].log == log and f"OMP_NUM_THREADS={threads} " in log.read_text().splitlines()[0]
    assert "unknown key 'no_such_key'" in outcomes[0].tail and "unknown key 'no_such_key'" in "\n".join(lines)
    finished = [line for line in lines if line.startswith("[")]
    assert [line[:5] for line in finished] == ["[1/3]", "[2/3]", "[3/3]"]
    assert finished[-1].endswith("2 ok, 1 failed, 0 to go")
    table = sweep.summary(outcomes).splitlines()
    assert table[0].split() == ["run", "status", "seconds", "log"]
    assert [row.split()[:2] for row in table[1:]] == [[o.run.name, o.status] for o in outcomes]
    assert sweep.exit_status(outcomes) == 1 and sweep.exit_status(outcomes[1:]) == 0


def test_a_run_does_not_inherit_the_dask_nannys_malloc_trim_threshold(tmp_path, monkeypatch):
    seen = {}

    def fake_call(command, cwd, env, stdout, stderr):
        seen.update(env)
        return 0

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    monkeypatch.setenv("SYMFLOW_PROBE", "kept")
    monkeypatch.setattr(sweep.subprocess, "call", fake_call)
    result = sweep.run_task(["00_generators_and_flows"], str(tmp_path / "log.txt"), threads=1)
    assert result["returncode"] == 0
    assert "MALLOC_TRIM_THRESHOLD_" not in seen
    assert seen["SYMFLOW_PROBE"] == "kept" and seen["OMP_NUM_THREADS"] == "1"
