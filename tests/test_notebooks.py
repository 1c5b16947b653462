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
