"""bench/bench_iterations.py at the smoke profile on the CPU: one loop timed, a failing loop recorded."""

import json
import math
import sys

from symflow import io

sys.path.insert(0, str(io.REPO / "bench"))  # importable by name: each loop runs in a spawned process
import bench_iterations as bench  # noqa: E402


def _bench(tmp_path, *args: str) -> dict:
    """Run the benchmark at smoke on the CPU with `args` and return what it wrote."""
    out = tmp_path / "iterations.json"
    bench.main(["--profile", "smoke", "--device", "cpu", *args, "--out", str(out)])
    return json.loads(out.read_text())


def test_one_loop_writes_a_finite_positive_time(tmp_path):
    result = _bench(
        tmp_path, "--loops", "pde_augmentation", "--iterations", "2", "--acceptance-every", "0", "--synthetic"
    )
    loop = result["loops"]["pde_augmentation"]
    assert loop["error"] is None and result["kdv_data"]["source"] == "synthetic"
    assert math.isfinite(loop["s_per_iteration"]) and loop["s_per_iteration"] > 0
    assert loop["settings"]["fno"] == {"width": 8, "modes": 4, "layers": 2, "hidden": 16}  # from symflow.profiles
    assert loop["projected_s"] == loop["s_per_iteration"] * loop["schedule_iterations"]


def test_a_failing_loop_is_recorded_and_the_others_run(tmp_path, monkeypatch):
    run = bench.isolated

    def fails_for_image_symmetries(loop, *args):
        if loop == "image_symmetries":
            raise RuntimeError("CUDA out of memory (simulated)")
        return run(loop, *args)

    monkeypatch.setattr(bench, "isolated", fails_for_image_symmetries)
    loops = _bench(tmp_path, "--loops", "image_symmetries,pde_augmentation", "--synthetic", "--acceptance-every", "0")[
        "loops"
    ]
    assert loops["image_symmetries"] == {"error": "RuntimeError: CUDA out of memory (simulated)"}
    assert loops["pde_augmentation"]["s_per_iteration"] > 0


def test_weno_loop_times_the_local_fits(tmp_path):
    loops = _bench(
        tmp_path,
        "--loops",
        "pde_symmetries,pde_symmetries_weno",
        "--iterations",
        "2",
        "--synthetic",
        "--acceptance-every",
        "0",
    )["loops"]
    assert loops["pde_symmetries"]["settings"]["method"] == "curvilinear"
    assert loops["pde_symmetries_weno"]["settings"]["method"] == "weno"
    assert all(loop["error"] is None and loop["s_per_iteration"] > 0 for loop in loops.values())


def test_time_to_acceptance_judges_the_run_as_notebook_02_does(tmp_path):
    t = _bench(tmp_path, "--loops", "pde_augmentation", "--iterations", "2", "--acceptance-every", "1")[
        "time_to_acceptance"
    ]
    assert "error" not in t, t
    # smoke trains 3 iterations: judged after each, or stopped at the first judgement that passes
    its = [j["iteration"] for j in t["judgements"]]
    assert its == list(range(1, len(its) + 1)) and 1 <= len(its) <= 3
    assert all(j["checks"] == 8 and 0 <= j["passed"] <= 8 for j in t["judgements"])  # KdV: 1 + 3 + 1 + 3 checks
    assert all(len(j["failed"]) == j["checks"] - j["passed"] for j in t["judgements"])
    seconds = [j["training_s"] for j in t["judgements"]]
    assert all(b > a > 0 for a, b in zip(seconds, seconds[1:])) or len(seconds) == 1
    if t["passed_at_iteration"] is None:
        assert its[-1] == t["schedule_iterations"] and t["judgements"][-1]["passed"] < 7
    else:
        assert t["passed_at_iteration"] == its[-1] and t["judgements"][-1]["passed"] == 7
