"""make status: a run is current only while its code is HEAD's and its inputs are unchanged."""

import json
import subprocess

import pytest

from symflow import io, status


def _head():
    return subprocess.run(
        ["git", "-C", str(io.REPO), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()


def _record(commit, inputs=None, end=None):
    return {"git_commit": commit, "git_commit_at_end": end or commit, "inputs": inputs or {}}


def test_a_run_of_head_with_unchanged_inputs_is_current_and_a_changed_input_makes_it_stale(tmp_path):
    data = tmp_path / "input.nc"
    data.write_bytes(b"first")
    record = _record(_head(), io.fingerprints([data]))
    assert status.check_run(record, "02_pde_symmetries") == []
    data.write_bytes(b"second")
    assert status.check_run(record, "02_pde_symmetries") == [f"input: {data} changed"]
    data.unlink()
    assert status.check_run(record, "02_pde_symmetries") == [f"input: {data} is gone"]


def test_dirty_unknown_and_older_commits_are_stale_with_their_reason():
    assert status.check_run(_record(_head() + "-dirty"), "02_pde_symmetries")[0].startswith("dirty")
    assert status.check_run(_record("0" * 40), "02_pde_symmetries")[0].startswith("unknown-commit")
    last_lib = subprocess.run(
        ["git", "-C", str(io.REPO), "log", "-n", "1", "--format=%H", "--", "lib"]
        + [f":(exclude){reader}" for reader in io.OUTSIDE_RUNS],  # a change of a reader alone is not code
        capture_output=True,
        text=True,
    ).stdout.strip()
    before = subprocess.run(["git", "-C", str(io.REPO), "rev-parse", f"{last_lib}~1"], capture_output=True, text=True)
    if not last_lib or before.returncode != 0:
        pytest.skip("needs the commit before the last change of lib/ (a shallow clone lacks it)")
    reasons = status.check_run(_record(before.stdout.strip()), "02_pde_symmetries")
    assert any(r.startswith("code: ") and "lib/" in r for r in reasons), reasons


def test_status_lists_every_run_of_a_profile(tmp_path):
    folder = tmp_path / "04_image_symmetries" / "quick"
    folder.mkdir(parents=True)
    (folder / "provenance.json").write_text(json.dumps(_record(_head())))
    (folder / "provenance_seed1.json").write_text(json.dumps(_record("0" * 40)))
    table = status.status("quick", tmp_path)
    assert table[["run", "status"]].values.tolist() == [["default", "current"], ["seed1", "stale"]]


def test_a_data_file_regenerated_with_the_same_values_keeps_its_runs_current(tmp_path):
    import numpy as np
    import xarray as xr

    data = tmp_path / "KdV_test.nc"
    values = np.arange(12.0).reshape(3, 4)
    xr.Dataset({"u": (("t", "x"), values)}, attrs={"nx": 4, "history": "made at 10:00"}).to_netcdf(data)
    record = _record(_head(), io.fingerprints([data]))
    # the same values written again at another time, by another command: still current
    xr.Dataset({"u": (("t", "x"), values)}, attrs={"nx": 4, "history": "made at 11:00"}).to_netcdf(data)
    assert status.check_run(record, "02_pde_symmetries") == []
    # one changed value, or a changed attribute that determines the content: stale
    xr.Dataset({"u": (("t", "x"), values + np.eye(3, 4) * 1e-12)}, attrs={"nx": 4}).to_netcdf(data)
    assert status.check_run(record, "02_pde_symmetries") == [f"input: {data} changed"]
    xr.Dataset({"u": (("t", "x"), values)}, attrs={"nx": 5}).to_netcdf(data)
    assert status.check_run(record, "02_pde_symmetries") == [f"input: {data} changed"]


def test_a_dirty_run_is_stale_unless_its_recorded_dirty_files_are_only_readers():
    head = _head()
    assert status.check_run(_record(head + "-dirty"), "05_image_augmentation")[0].startswith("dirty")
    only_readers = {**_record(head + "-dirty"), "dirty_files": ["lib/symflow/report.py"]}
    assert status.check_run(only_readers, "05_image_augmentation") == []
    with_code = {**_record(head + "-dirty"), "dirty_files": ["lib/symflow/report.py", "lib/symflow/io.py"]}
    reasons = status.check_run(with_code, "05_image_augmentation")
    assert reasons[0].startswith("dirty") and "lib/symflow/io.py" in reasons[0]
    other_notebook = {**_record(head + "-dirty"), "dirty_files": ["notebooks/02_pde_symmetries.ipynb", "bench/x.py"]}
    assert status.check_run(other_notebook, "05_image_augmentation") == []
    own_notebook = {**_record(head + "-dirty"), "dirty_files": ["notebooks/05_image_augmentation.ipynb"]}
    assert status.check_run(own_notebook, "05_image_augmentation")[0].startswith("dirty")


def test_uncommitted_code_lists_changed_code_but_not_readers_or_other_files(tmp_path, monkeypatch):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    for path in ["lib/symflow/report.py", "lib/symflow/io.py", "notebooks/a.ipynb", "README.md"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("first\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first")
    monkeypatch.setattr(io, "REPO", tmp_path)
    assert io.uncommitted_code() == [] and not io.git_commit().endswith("-dirty")
    (tmp_path / "lib/symflow/report.py").write_text("second\n")
    (tmp_path / "README.md").write_text("second\n")
    assert io.uncommitted_code() == [] and not io.git_commit().endswith("-dirty")
    (tmp_path / "notebooks/a.ipynb").write_text("second\n")
    (tmp_path / "lib/symflow/io.py").write_text("second\n")
    assert io.uncommitted_code() == ["lib/symflow/io.py", "notebooks/a.ipynb"]
    assert io.git_commit().endswith("-dirty")
    assert io.provenance("quick", {}, 1.0)["dirty_files"] == ["lib/symflow/io.py", "notebooks/a.ipynb"]


def test_no_run_executes_the_modules_that_status_ignores():
    """io.OUTSIDE_RUNS may change without making a run stale only while no run imports them:
    the runner, every other library module and the notebooks' code cells."""
    import json
    import re
    import sys

    outside = {path.removeprefix("lib/").removesuffix(".py").replace("/", ".") for path in io.OUTSIDE_RUNS}
    modules = [
        path.relative_to(io.REPO / "lib").with_suffix("").as_posix().replace("/", ".")
        for path in (io.REPO / "lib" / "symflow").rglob("*.py")
    ]
    inside = sorted(m.removesuffix(".__init__") for m in modules if m not in outside)
    code = f"import importlib, sys; [importlib.import_module(m) for m in {inside!r}]; print(sorted(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert not [m for m in outside if f"'{m}'" in loaded]
    for notebook in (io.REPO / "notebooks").glob("*.ipynb"):
        cells = json.loads(notebook.read_text())["cells"]
        source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        imported = {
            name.strip() for line in re.findall(r"from symflow import ([\w, ]+)", source) for name in line.split(",")
        }
        assert not [m for m in outside if m in source or m.rsplit(".", 1)[1] in imported], notebook.name


def test_records_with_and_without_a_start_time_are_read_alike(tmp_path):
    """`started_utc` (new) is one more key of a record; records written before it are still read."""
    folder = tmp_path / "02_pde_symmetries" / "quick"
    folder.mkdir(parents=True)
    old = {**_record(_head()), "finished_utc": "2025-01-01T12:00:00+00:00"}
    new = {**old, "started_utc": "2025-01-01T11:00:00+00:00"}
    (folder / "provenance.json").write_text(json.dumps(old))
    (folder / "provenance_seed1.json").write_text(json.dumps(new))
    assert status.check_run(old, "02_pde_symmetries") == status.check_run(new, "02_pde_symmetries") == []
    table = status.status("quick", tmp_path)
    assert table[["run", "status"]].values.tolist() == [["default", "current"], ["seed1", "current"]]
