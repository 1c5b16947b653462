"""The shared training loop (symflow.learning): when it writes its log lines."""

from __future__ import annotations

import time

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
