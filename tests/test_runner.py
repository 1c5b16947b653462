"""The runner's bookkeeping of per-seed result tables."""

import pandas as pd

from symflow import runner


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
