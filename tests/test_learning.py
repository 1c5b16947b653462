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
