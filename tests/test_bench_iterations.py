"""bench/bench_iterations.py at the smoke profile on the CPU: one loop timed, a failing loop recorded."""
import importlib.util
import json
import math

from symflow import io

spec = importlib.util.spec_from_file_location("bench_iterations", io.REPO / "bench" / "bench_iterations.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_one_loop_writes_a_finite_positive_time(tmp_path):
    out = tmp_path / "iterations.json"
    bench.main(["--profile", "smoke", "--device", "cpu", "--loops", "pde_augmentation", "--iterations", "2",
                "--synthetic", "--out", str(out)])
    result = json.loads(out.read_text())
    loop = result["loops"]["pde_augmentation"]
    assert loop["error"] is None and result["kdv_data"]["source"] == "synthetic"
    assert math.isfinite(loop["s_per_iteration"]) and loop["s_per_iteration"] > 0
    assert loop["settings"]["fno"] == {"width": 8, "modes": 4, "layers": 2}  # from symflow.profiles
    assert loop["projected_s"] == loop["s_per_iteration"] * loop["schedule_iterations"]


def test_a_failing_loop_is_recorded_and_the_others_run(tmp_path, monkeypatch):
    def fails(profile, device, synthetic):
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setitem(bench.LOOPS, "image_symmetries", fails)
    out = tmp_path / "iterations.json"
    bench.main(["--profile", "smoke", "--device", "cpu", "--loops", "image_symmetries,pde_augmentation",
                "--synthetic", "--out", str(out)])
    loops = json.loads(out.read_text())["loops"]
    assert loops["image_symmetries"] == {"error": "RuntimeError: CUDA out of memory (simulated)"}
    assert loops["pde_augmentation"]["s_per_iteration"] > 0
