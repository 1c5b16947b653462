"""The shared training loop (symflow.learning): when it writes its log lines; its checkpoints
(save_checkpoint / load_checkpoint, shared with the other training loops) and resumes."""

from __future__ import annotations

import time

import pytest
import torch

from symflow import learning


def _run(log_seconds: float, pause: float) -> list[str]:
    field = torch.nn.Linear(1, 1)

    def step(it, rng):
        time.sleep(pause)
        loss = (field.weight**2).sum()
        return loss, {"S1": float(loss)}

    lines: list[str] = []
    schedule = learning.Schedule(iterations=6, lr=0.1, log_every=100, log_seconds=log_seconds)
    learning.learn(field, step, schedule, identity={"test": 1}, log=lines.append, name="toy")
    return lines


def test_without_a_time_bound_only_log_every_and_the_last_iteration_write_lines():
    lines = _run(log_seconds=0.0, pause=0.02)
    assert [line.split("  ")[0] for line in lines] == ["toy it 6/6"]


def test_a_slow_run_writes_a_line_whenever_log_seconds_have_passed():
    lines = _run(log_seconds=0.03, pause=0.05)
    assert [line.split("  ")[0] for line in lines] == [f"toy it {k}/6" for k in range(1, 7)]


def test_checkpoint_round_trip_and_its_errors_name_the_file(tmp_path):
    path = tmp_path / "run" / "checkpoint.pt"
    assert learning.load_checkpoint(path, {"run": 1}, ["w"]) is None
    assert learning.load_checkpoint(None, {"run": 1}, ["w"]) is None
    assert learning.save_checkpoint(path, {"run": 1}, {"w": torch.arange(3), "n": 2}) == path
    state = learning.load_checkpoint(path, {"run": 1}, ["w", "n"])
    assert state["identity"] == {"run": 1} and torch.equal(state["w"], torch.arange(3)) and state["n"] == 2
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pt"]  # no temporary file left
    with pytest.raises(ValueError, match="belongs to another run") as err:
        learning.load_checkpoint(path, {"run": 2}, ["w"])
    assert str(path) in str(err.value)
    with pytest.raises(ValueError, match="is not a checkpoint of this training loop") as err:
        learning.load_checkpoint(path, {"run": 1}, ["w", "optimiser"])
    assert str(path) in str(err.value)
    path.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ValueError, match="cannot be read.*damaged") as err:
        learning.load_checkpoint(path, {"run": 1}, ["w"])
    assert str(path) in str(err.value) and path.read_bytes() == b"\x00garbage" * 100


def _learn_toy(checkpoint, identity, stop_at=None):
    torch.manual_seed(0)
    field = torch.nn.Linear(3, 2)

    def step(it, rng):
        x = torch.randn(8, 3, generator=rng)
        loss = ((field(x) - x[:, :2]) ** 2).mean()
        return loss, {"S1": float(loss.detach())}

    schedule = learning.Schedule(iterations=8, lr=0.05, decay_at=0.5, log_every=100, checkpoint_every=2)
    stop = None if stop_at is None else (lambda done, f: done == stop_at)
    history = learning.learn(
        field, step, schedule, identity, seed=4, checkpoint=checkpoint, log=None, callback=stop, callback_every=1
    )
    return field, history


def test_learn_resumes_bit_identically_and_refuses_another_runs_or_a_damaged_checkpoint(tmp_path):
    plain, expected = _learn_toy(None, {"run": 1})
    ckpt = tmp_path / "checkpoint.pt"
    _learn_toy(ckpt, {"run": 1}, stop_at=3)
    assert torch.load(ckpt, weights_only=False)["iteration"] == 3
    field, history = _learn_toy(ckpt, {"run": 1})
    assert all(torch.equal(a, b) for a, b in zip(field.state_dict().values(), plain.state_dict().values()))
    assert history.drop(columns="seconds").equals(expected.drop(columns="seconds"))
    with pytest.raises(ValueError, match="belongs to another run") as err:
        _learn_toy(ckpt, {"run": 2})
    assert f"checkpoint {ckpt}" in str(err.value)
    ckpt.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot be read.*damaged") as err:
        _learn_toy(ckpt, {"run": 1})
    assert f"checkpoint {ckpt}" in str(err.value)


def test_the_plateau_rule_drops_the_rate_once_then_stops():
    rule = learning.Plateau(every=1, patience=2, tol=0.1, min_iterations=0)
    state = rule.initial_state()
    actions = [rule.update(state, i + 1, score) for i, score in enumerate([5.0, 4.0, 3.95, 3.98, 3.0, 3.0, 2.95])]
    # 4.0 improves; 3.95 and 3.98 are within tol of the best: the second of them drops the rate;
    # 3.0 improves; 3.0 and 2.95 are within tol again: the run stops
    assert actions == ["continue", "continue", "continue", "decay", "continue", "continue", "stop"]
    assert state["decayed"] and state["stopped"] and state["best"] == 2.95
    early = learning.Plateau(every=1, patience=1, tol=0.0, min_iterations=3)
    state = early.initial_state()
    # nothing before iteration 3; then the waiting measurements count at once
    assert [early.update(state, i + 1, 1.0) for i in range(4)] == ["continue", "continue", "decay", "stop"]
    with pytest.raises(ValueError, match="patience must be a positive integer"):
        learning.Plateau(every=10, patience=0, tol=0.1)


def _converging(ckpt=None, stop_at=None):
    """A field whose loss (w - 1)^2 converges: the validation score is the loss itself."""
    torch.manual_seed(0)
    field = torch.nn.Linear(1, 1, bias=False)

    def step(it, rng):
        loss = ((field.weight - 1) ** 2).sum()
        return loss, {"S1": loss.item()}

    def score(f):
        return float(((f.weight - 1) ** 2).sum())

    rule = learning.Plateau(every=5, patience=2, tol=1e-6)
    schedule = learning.Schedule(iterations=stop_at or 1000, lr=0.05, log_every=1000)
    history = learning.learn(field, step, schedule, {"toy": 1}, checkpoint=ckpt, log=None, plateau=rule, score=score)
    return field, history


def test_a_converged_run_stops_before_the_cap_with_its_rate_dropped_and_resumes_its_rule(tmp_path):
    field, history = _converging()
    assert len(history) < 1000 and len(history) % 5 == 0
    measured = history.dropna(subset=["valid_score"])
    assert list(measured.iteration + 1) == list(range(5, len(history) + 1, 5))
    assert history.lr.iloc[0] == 0.05 and history.lr.iloc[-1] == pytest.approx(0.005)
    assert measured.valid_score.min() < 0.01 * measured.valid_score.iloc[0]
    # a run cut short and resumed converges at the same iteration, and a converged run does not go on
    ckpt = tmp_path / "run.pt"
    _converging(ckpt, stop_at=12)
    with pytest.raises(ValueError, match="give both or neither"):
        learning.learn(field, lambda it, rng: (field.weight.sum(), {}), learning.Schedule(1, 0.1), {}, score=len)
    resumed, first = _converging(ckpt)
    _, second = _converging(ckpt)
    assert len(second) == len(first) == len(history)
    assert first.drop(columns="seconds").equals(history.drop(columns="seconds"))
    assert torch.equal(resumed.weight, field.weight)
