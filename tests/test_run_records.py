"""Judged runs kept beside their checkpoints (pde_learning's run records): a run of the same identity
reuses one instead of training again, any other run trains, and a damaged record is never trusted."""

from __future__ import annotations

import copy
from io import BytesIO

import torch

from symflow import profiles
from symflow.pde import pde_learning


def _settings():
    p = profiles.get("smoke", "pde_symmetries")
    return p["learn"], p["evaluate"]


def _run(checkpoint, learn, evaluate, earlier=None, lines=None):
    log = (lines if lines is not None else []).append
    blob = pde_learning._train_from_data("KdV", "smoke", learn, str(checkpoint), 0, "cpu", evaluate, earlier, log=log)
    return torch.load(BytesIO(blob), weights_only=False)


def _same_field(a, b):
    return all(torch.equal(x, y) for x, y in zip(a["state"].values(), b["state"].values()))


def test_a_run_of_the_same_identity_reuses_the_record_and_another_trains(tmp_path, one_thread):
    learn, evaluate = _settings()
    first = _run(tmp_path / "a" / "checkpoint.pt", learn, evaluate)
    record = pde_learning.run_record_path(tmp_path / "a" / "checkpoint.pt")
    assert record.name == "checkpoint_record.pt" and record.exists()
    assert "reused_record" not in first["timing"]

    # another folder, pointed at the first run's record: reused, not trained (no checkpoint written)
    lines: list[str] = []
    again = _run(tmp_path / "b" / "checkpoint.pt", learn, evaluate, earlier=record, lines=lines)
    assert again["timing"]["reused_record"].endswith("checkpoint_record.pt")
    assert any("reusing the judged run" in line for line in lines)
    assert not (tmp_path / "b" / "checkpoint.pt").exists()
    assert _same_field(first, again)
    for mine, theirs in zip(first["judged"], again["judged"]):
        assert mine.equals(theirs)

    # other settings: trained anew, though the earlier record is offered
    other = copy.deepcopy(learn)
    other["lr"] = learn["lr"] * 2
    changed = _run(tmp_path / "c" / "checkpoint.pt", other, evaluate, earlier=record)
    assert "reused_record" not in changed["timing"]
    assert (tmp_path / "c" / "checkpoint.pt").exists()


def test_identity_changes_with_settings_seed_and_data(tmp_path, monkeypatch):
    learn, evaluate = _settings()
    base = pde_learning.run_identity("KdV", "smoke", learn, 0, "cpu", evaluate)
    assert base == pde_learning.run_identity("KdV", "smoke", copy.deepcopy(learn), 0, "cpu", evaluate)
    assert base != pde_learning.run_identity("KdV", "smoke", learn, 1, "cpu", evaluate)
    assert base != pde_learning.run_identity("KS", "smoke", learn, 0, "cpu", evaluate)
    assert base != pde_learning.run_identity("KdV", "smoke", {**learn, "iterations": 4}, 0, "cpu", evaluate)
    monkeypatch.setattr(pde_learning, "_library_digest", lambda: "another library")
    assert base != pde_learning.run_identity("KdV", "smoke", learn, 0, "cpu", evaluate)


def test_a_damaged_or_foreign_record_is_not_reused(tmp_path):
    learn, evaluate = _settings()
    identity = pde_learning.run_identity("KdV", "smoke", learn, 0, "cpu", evaluate)
    damaged = tmp_path / "damaged_record.pt"
    damaged.write_bytes(b"not a record")
    assert pde_learning.load_run_record(damaged, identity) is None
    assert pde_learning.load_run_record(tmp_path / "missing_record.pt", identity) is None
    foreign = tmp_path / "foreign_record.pt"
    torch.save({"identity": {**identity, "seed": 7}, "blob": b"x"}, foreign)
    assert pde_learning.load_run_record(foreign, identity) is None
    mine = tmp_path / "mine_record.pt"
    torch.save({"identity": identity, "blob": b"x"}, mine)
    assert pde_learning.load_run_record(mine, identity) == b"x"
