"""Runs do not overwrite each other's files: two seeds of the image notebook run in parallel at
smoke; the inputs they share are made once, by one of them, and every other file carries the
name of the run that wrote it."""

import json
import os
import subprocess
import sys

import pytest

from symflow import runner
from symflow.image import image_symmetries


def _start(seed, env):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "symflow.runner",
            "04_image_symmetries",
            "--profile",
            "smoke",
            "--tag",
            f"seed{seed}",
            "-p",
            f"overrides={{'seed': {seed}}}",
            "--quiet",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _outputs(executed):
    cells = json.loads(executed.read_text())["cells"]
    return "".join(
        o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
        for c in cells
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
    )


@pytest.mark.notebook
def test_two_seeds_in_parallel_share_inputs_made_once_and_write_disjoint_files(tmp_path):
    env = {**os.environ, "SYMFLOW_RESULTS": str(tmp_path), "OMP_NUM_THREADS": "1"}
    runs = [_start(seed, env) for seed in (1, 2)]
    for run in runs:
        log, _ = run.communicate(timeout=600)
        assert run.returncode == 0, log
    folder = tmp_path / "04_image_symmetries" / "smoke"
    made = [
        seed for seed in (1, 2) if "shared inputs made" in _outputs(folder / f"04_image_symmetries_seed{seed}.ipynb")
    ]
    read = [
        seed for seed in (1, 2) if "shared inputs read" in _outputs(folder / f"04_image_symmetries_seed{seed}.ipynb")
    ]
    assert len(made) == 1 and len(read) == 1 and set(made + read) == {1, 2}, (made, read)
    shared = {p.name for p in (folder / "shared").iterdir()}
    assert set(image_symmetries.SHARED_FILES) <= shared and ".lock" not in shared
    combined = {f"{name}.csv" for name in runner.SEED_TABLES["04_image_symmetries"]}
    for path in folder.iterdir():
        if path.is_file() and path.name not in combined:
            assert ("seed1" in path.name) != ("seed2" in path.name), f"{path.name} is not one run's own file"
    reader = json.loads((folder / f"provenance_seed{read[0]}.json").read_text())
    assert reader["settings"]["seed"] == read[0] and reader["settings"]["learn"]["iterations"] > 0
    assert any(name.endswith("shared/pixel_weight.nc") for name in reader["inputs"])
    assert all(len(digest) == 64 for digest in reader["inputs"].values())
