"""Every notebook runs end to end under papermill at the smoke profile, in numeric order."""

import pytest

from symflow import report, runner
from test_report import links_in

NOTEBOOKS = sorted(p.stem for p in runner.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def results_root(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("results")
        mp.setenv("SYMFLOW_RESULTS", str(root))
        yield root


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_runs_at_smoke_profile(notebook, results_root):
    out = runner.run_notebook(notebook, "smoke", html=False)
    assert out == results_root / notebook / "smoke"
    assert (out / f"{notebook}.ipynb").exists() and (out / "provenance.json").exists()
    assert not out.with_name("smoke.partial").exists()
    assert any(out.glob("*.png")), "every notebook shows at least one figure"


def test_runner_rejects_unknown_notebook_and_profile():
    with pytest.raises(ValueError, match="notebook must be one of"):
        runner.run_notebook("99_nothing", "smoke")
    with pytest.raises(ValueError, match="profile must be one of"):
        runner.run_notebook(NOTEBOOKS[0], "fast")


@pytest.mark.notebook
def test_results_index_of_the_smoke_runs_links_existing_files(results_root):
    """Runs after the notebooks above (same module, same results root)."""
    text = report.build("smoke")
    links = links_in(text)
    assert any(l.endswith("00_generators_and_flows.ipynb") for l in links)
    assert all((results_root / l).exists() for l in links)


@pytest.mark.notebook
def test_notebook_06_counts_from_the_six_generator_run_when_there(results_root):
    """make evidence's 6-generator run of notebook 02 (its own subfolder, seed 0's folders left
    alone), then notebook 06 counts from its V1..V6. Runs after the notebooks above."""
    import pandas as pd

    seed0 = (results_root / "02_pde_symmetries" / "smoke" / "KdV_seed0" / "generators.pt").read_bytes()
    parameters = {"subfolder": "generators6", "overrides": {"learn": {"n_generators": 6}, "equations": ["KdV"]}}
    pde = runner.run_notebook("02_pde_symmetries", "smoke", parameters=parameters, tag="generators6")
    assert (pde / "generators6" / "KdV_seed0" / "generators.pt").exists()
    assert (pde / "KdV_seed0" / "generators.pt").read_bytes() == seed0
    out = runner.run_notebook("06_generator_algebra", "smoke", tag="count")
    counts = pd.read_csv(out / "symmetry_count.csv")
    assert list(counts.run) == ["generators6/KdV_seed0"] and list(counts.generators) == [6]
    assert {f"closure_k{k}" for k in range(1, 7)} <= set(counts.columns)


@pytest.mark.notebook
def test_notebook_07_gathers_the_augmentation_of_its_tagged_runs(results_root):
    """The Makefile's DETECTOR_AUGMENTATION runs (one tagged run of notebook 07 per equation, in
    its subfolder, the augmentation alone: no detector sweep), then a run with the augmentation off
    gathers their tables into augmentation.csv. Runs after the notebooks above."""
    import pandas as pd

    one = {"equations": ["KdV"], "augmentation": {"equations": ["KdV"]}}
    tagged = runner.run_notebook(
        "07_detector_benchmark",
        "smoke",
        parameters={"subfolder": "augmentation_KdV", "augmentation_only": True, "overrides": one},
        tag="augmentation_KdV",
    )
    written = {p.name for p in (tagged / "augmentation_KdV").iterdir()}
    assert {"augmentation.csv", "augmentation_runs.csv", "augmentation.png"} <= written
    assert not written & {"detectors.csv", "detectors.png", "statements.txt", "closing_note.txt"}, written
    part = pd.read_csv(tagged / "augmentation_KdV" / "augmentation.csv")
    assert {"known - none", "learned - none", "lienlsd-fitted - none"} <= set(part.comparison)
    runs = pd.read_csv(tagged / "augmentation_KdV" / "augmentation_runs.csv")
    assert set(runs.runs_of) <= set(runs.augmentation)
    off = {"augmentation": {"equations": []}}
    out = runner.run_notebook("07_detector_benchmark", "smoke", parameters={"overrides": off}, tag="gathered")
    pd.testing.assert_frame_equal(pd.read_csv(out / "augmentation.csv"), part)
    assert (out / "augmentation.png").exists()


@pytest.mark.notebook
def test_notebook_02_reuses_a_judged_run_of_the_same_identity(results_root):
    """`make reproduce` runs notebook 02 one equation at a time, then its default run, which reuses their
    judged runs (pde_learning's run records) and keeps their training logs and speed tables. Here the
    smoke default run above made the record; a second run of the same settings reuses it. Runs after
    the notebooks above."""
    seed0 = results_root / "02_pde_symmetries" / "smoke" / "KdV_seed0"
    log, speed = (seed0 / "training_log.txt").read_bytes(), (seed0 / "speed.csv").read_bytes()
    assert (seed0 / "checkpoint_record.pt").exists()
    out = runner.run_notebook("02_pde_symmetries", "smoke", tag="again")
    assert "reusing the judged run" in (out / "02_pde_symmetries_again.ipynb").read_text()
    assert (seed0 / "training_log.txt").read_bytes() == log and (seed0 / "speed.csv").read_bytes() == speed
    assert (seed0 / "checkpoint_record.pt").exists() and (seed0 / "generators.pt").exists()
