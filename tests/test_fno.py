"""FNO1d, LPSDA-style windows, rollout NMSE, bootstrap intervals (notebook 03)."""

import math

import pytest
import torch

from symflow import metrics
from symflow.pde import fno


def _advected(n, nt, nx, speed=1, seed=0):
    """u_j(x) = f(x - speed j): a rigid advection by `speed` cells per row of random smooth f."""
    g = torch.Generator().manual_seed(seed)
    f = torch.fft.irfft(torch.randn(n, 5, dtype=torch.complex64, generator=g), n=nx)
    return torch.stack([torch.roll(f, speed * j, -1) for j in range(nt)], 1)


def test_fno_shapes_and_bad_input():
    model = fno.FNO1d(n_in=4, n_out=3, width=8, modes=4, layers=2)
    assert model(torch.randn(5, 4, 32)).shape == (5, 3, 32)
    with pytest.raises(ValueError, match="u must have shape"):
        model(torch.randn(5, 3, 32))
    with pytest.raises(ValueError, match="width"):
        fno.FNO1d(width=0)
    with pytest.raises(ValueError, match="lead == n_in"):
        fno.Task(20, 20, 10, None)


def test_spectral_layer_commutes_with_whole_cell_rolls():
    model = fno.FNO1d(n_in=3, n_out=2, width=6, modes=5, layers=2)
    h = torch.randn(1, 2, 32, 6)
    layer = lambda v: model._spectral(v, model.spectral[0])
    assert torch.allclose(layer(torch.roll(h, 7, 2)), torch.roll(layer(h), 7, 2), atol=1e-6)


class _Oracle(torch.nn.Module):
    """The exact solver of `_advected` with speed 1: shifts the last row by 1..n_out cells.
    Accepts (B, n_in, nx) or the ensemble shape (1, B, n_in, nx), like a 1-member FNO1d."""

    n_in = n_out = 4
    members = 1

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, u):
        return torch.stack([torch.roll(u[..., -1, :], k, -1) for k in range(1, 5)], -2)


class _Zero(_Oracle):
    """Predicts u = 0: every predicted row has NMSE exactly 1."""

    def forward(self, u):
        return torch.zeros(*u.shape[:-2], 4, u.shape[-1])


def test_rollout_of_the_exact_solver_has_zero_nmse_and_a_wrong_one_does_not():
    u = _advected(3, 14, 32)
    task = fno.bundled(4)
    pred, true = fno.predict(_Oracle(), u, task)
    assert pred.shape == true.shape == (3, 8, 32)  # (14 - 4) // 4 = 2 bundles
    assert torch.allclose(fno.nmse(_Oracle(), u, task), torch.zeros(3), atol=1e-10)
    assert (fno.nmse(_Oracle(), _advected(3, 14, 32, speed=2), task) > 0.1).all()
    single = fno.single_time(first=2, n_in=4, target=9)  # rows 2..5 -> row 9
    p, t = fno.predict(_Oracle().eval(), u, fno.Task(4, 4, 4, 2))
    assert torch.allclose(p, t, atol=1e-6) and single.span == 8 and single.lead == 7


def test_cumulative_nmse_sums_per_row_errors_from_the_start_row():
    """A zero prediction has per-row NMSE 1: the cumulative NMSE counts the predicted rows
    (rows 8..19 of 20 from start 4 with bundles of 4: 3 bundles, 12 rows); the oracle's is 0."""
    u = _advected(3, 20, 32)
    task = fno.bundled(4)
    assert torch.allclose(fno.cumulative_nmse(_Zero(), u, task, start=4), torch.full((3,), 12.0))
    assert torch.allclose(fno.cumulative_nmse(_Oracle(), u, task, start=4), torch.zeros(3), atol=1e-10)
    with pytest.raises(ValueError, match="start must be"):
        fno.cumulative_nmse(_Zero(), u, task, start=15)


def test_ensemble_members_compute_and_learn_exactly_like_single_models():
    """Member e of an ensemble gives the 1-member model's output, and its gradient under the
    summed loss is that model's own gradient on its own batch."""
    ens = fno.seeded([3, 5], n_in=4, n_out=4, width=8, modes=4, layers=2, hidden=16)
    singles = [ens.member(0), ens.member(1)]
    x, y = torch.randn(2, 6, 4, 32), torch.randn(2, 6, 4, 32)
    out = ens(x)
    ((out - y) ** 2).mean((1, 2, 3)).sum().backward()
    for e, one in enumerate(singles):
        torch.testing.assert_close(one(x[e]), out[e].detach(), rtol=1e-6, atol=1e-6)
        ((one(x[e]) - y[e]) ** 2).mean().backward()
        for (name, p_ens), (_, p_one) in zip(ens.named_parameters(), one.named_parameters()):
            torch.testing.assert_close(p_ens.grad[e : e + 1], p_one.grad, rtol=1e-5, atol=1e-7, msg=name)
    # a member's initial weights depend on its seed only, not on the ensemble it sits in
    alone = fno.seeded([5], n_in=4, n_out=4, width=8, modes=4, layers=2, hidden=16)
    torch.testing.assert_close(alone(x[1]), singles[1](x[1]))
    with pytest.raises(ValueError, match=r"\(2, B, 4, nx\)"):
        ens(x[0])


def test_fit_lowers_the_validation_error_and_keeps_each_members_best_weights():
    u = _advected(16, 24, 32)
    valid = _advected(4, 24, 32, seed=1)
    model = fno.seeded([0, 1], n_in=4, n_out=4, width=16, modes=8, layers=2, hidden=32)
    task = fno.bundled(4)
    before = fno.nmse(model, valid, task).mean(1)
    pools = [fno.TrajectoryPool.plain(u)] * 2
    result = fno.fit(
        model, pools, task, valid, fno.FitSettings(batch=8, lr=3e-3, max_epochs=8, eval_every=1.0, patience=50)
    )
    assert result.steps == 8 * result.steps_per_epoch == 8 * fno.steps_per_epoch(16, 24, task, 8)
    after = fno.nmse(model, valid, task).mean(1)
    assert (after < 0.5 * before).all()
    torch.testing.assert_close(
        after.double(), torch.tensor(result.best_valid, dtype=torch.float64), rtol=1e-5, atol=1e-7
    )
    assert all(0 < s <= result.steps for s in result.best_step)
    # the history: one row per evaluation and member, in learning's convention
    h = result.history
    assert list(h.columns) == ["step", "member", "valid", "loss", "lr", "seconds"] and len(h) == 8 * 2
    assert list(h.step) == [result.steps_per_epoch * (i // 2 + 1) for i in range(16)] and list(h.member) == [0, 1] * 8
    assert (
        (h.lr > 0).all()
        and h.lr.iloc[-1] < h.lr.iloc[0]
        and set(h.valid.groupby(h.member).min()) == set(result.best_valid)
    )


def test_fit_stops_members_that_stop_improving():
    """With lr 0 nothing improves after the first evaluation: the run stops after `patience`
    more evaluations, long before its budget."""
    u = _advected(8, 24, 32)
    model = fno.seeded([0], n_in=4, n_out=4, width=8, modes=4, layers=1, hidden=8)
    settings = fno.FitSettings(batch=8, lr=1e-12, max_epochs=100, eval_every=1.0, patience=2)
    result = fno.fit(model, [fno.TrajectoryPool.plain(u)], fno.bundled(4), u, settings)
    assert result.steps <= 4 * result.steps_per_epoch and len(result.history) <= 4


class _Interrupt(Exception):
    pass


def _fit_run(checkpoint=None, identity=None, stop_after=None, log=None):
    """A tiny two-member fit (cosine schedule, a pool with a shifted copy, one member stopping
    early); `stop_after` k: interrupted by raising from `log` after the k-th evaluation."""
    u, valid = _advected(8, 16, 16), _advected(2, 16, 16, seed=1)
    rows = torch.tensor([[0, 16], [1, 15]]).expand(8, 2, 2).clone()
    copies = fno.TrajectoryPool(torch.stack([u, torch.roll(u, 2, -1)], 1), rows, torch.ones(8, 2, dtype=torch.bool))
    model = fno.seeded([0, 1], n_in=4, n_out=4, width=4, modes=3, layers=1, hidden=4)
    settings = fno.FitSettings(batch=4, lr=1e-2, max_epochs=6, eval_every=0.5, patience=3)
    lines = []

    def record(line):
        lines.append(line)
        if stop_after is not None and sum(x.startswith("step") for x in lines) == stop_after:
            raise _Interrupt

    result = fno.fit(
        model, [fno.TrajectoryPool.plain(u), copies], fno.bundled(4), valid, settings, seeds=[3, 4],
        log=record, checkpoint=checkpoint, identity=identity,
    )  # fmt: skip
    return model, result, lines


def test_fit_resumes_from_its_checkpoint_bit_identically(tmp_path):
    """Interrupted after an evaluation and rerun, fit ends with exactly the weights and history
    (seconds aside) of an uninterrupted run, which checkpointing itself does not change."""
    plain, expected, _ = _fit_run()
    ckpt = tmp_path / "fit.pt"
    evaluations = sorted(set(expected.history.step))
    drop = lambda h: h.drop(columns="seconds")  # noqa: E731
    for k in (1, 7):
        with pytest.raises(_Interrupt):
            _fit_run(ckpt, {"data": "toy"}, stop_after=k)
        model, result, lines = _fit_run(ckpt, {"data": "toy"})
        assert (
            lines[0] == f"resumed from {ckpt} at step {evaluations[k - 1]}"
            and len(lines) == len(evaluations) - k + 2  # the resume line, the remaining evaluations, the end
            and lines[-1].startswith(f"ended at step {expected.steps}/")
        )
        for name, value in plain.state_dict().items():
            assert torch.equal(model.state_dict()[name], value), name
        assert drop(result.history).equals(drop(expected.history)) and result.steps == expected.steps
        assert (result.best_step, result.best_valid) == (expected.best_step, expected.best_valid)
        ckpt.unlink()
    # a rerun of a finished run trains nothing more and ends with the same weights
    _fit_run(ckpt, {"data": "toy"})
    again, result, _ = _fit_run(ckpt, {"data": "toy"})
    assert all(torch.equal(again.state_dict()[k], v) for k, v in plain.state_dict().items())
    assert drop(result.history).equals(drop(expected.history))


def test_fit_refuses_another_runs_or_a_damaged_checkpoint_naming_it(tmp_path):
    ckpt = tmp_path / "fit.pt"
    with pytest.raises(_Interrupt):
        _fit_run(ckpt, {"data": "toy"}, stop_after=1)
    before = ckpt.read_bytes()
    with pytest.raises(ValueError, match="belongs to another run") as err:
        _fit_run(ckpt, {"data": "other"})
    assert str(ckpt) in str(err.value) and ckpt.read_bytes() == before
    ckpt.write_bytes(b"not a torch file" * 64)
    with pytest.raises(ValueError, match="cannot be read.*damaged") as err:
        _fit_run(ckpt, {"data": "toy"})
    assert str(ckpt) in str(err.value)
    torch.save({"identity": None, "step": 3}, ckpt)
    with pytest.raises(ValueError, match="is not a checkpoint of this training loop") as err:
        _fit_run(ckpt, {"data": "toy"})
    assert str(ckpt) in str(err.value)


def test_fit_settings_and_bad_input():
    with pytest.raises(ValueError, match="schedule must be"):
        fno.FitSettings(schedule="step")
    with pytest.raises(ValueError, match="max_steps"):
        fno.FitSettings(max_steps=0)
    with pytest.raises(ValueError, match="p_original"):
        fno.FitSettings(p_original=1.5)
    model = fno.seeded([0, 1], n_in=4, n_out=4, width=8, modes=4, layers=1, hidden=8)
    u = torch.zeros(8, 24, 16)
    with pytest.raises(ValueError, match="one TrajectoryPool per member"):
        fno.fit(model, [fno.TrajectoryPool.plain(u)], fno.bundled(4), u)
    with pytest.raises(ValueError, match="same number of trajectories"):
        fno.fit(model, [fno.TrajectoryPool.plain(u), fno.TrajectoryPool.plain(u[:4])], fno.bundled(4), u)
    with pytest.raises(ValueError, match="valid must be"):
        fno.fit(model, [fno.TrajectoryPool.plain(u)] * 2, fno.bundled(4), u[:0])


def test_pool_subset_and_task_checks():
    pool = fno.TrajectoryPool.plain(torch.zeros(8, 30, 16))
    assert pool.subset(4).u.shape == (4, 1, 30, 16)
    with pytest.raises(ValueError, match="n must be in 1..8"):
        pool.subset(9)
    with pytest.raises(ValueError, match="needs 40"):
        fno.fit(fno.FNO1d(width=4, modes=2, layers=1), [pool], fno.bundled(20), pool.u[:, 0])


def test_bootstrap_interval_contains_the_mean_and_narrows_with_more_data():
    g = torch.Generator().manual_seed(0)
    small, large = torch.randn(20, generator=g), torch.randn(2000, generator=g)
    m, lo, hi = metrics.bootstrap_ci(small)
    assert lo < m < hi
    M, LO, HI = metrics.bootstrap_ci(large)
    assert HI - LO < (hi - lo) / 5
    # the interval of a mean of n standard normals is about +-1.96 / sqrt(n)
    assert abs((HI - LO) / 2 - 1.96 / math.sqrt(2000)) < 0.01
    assert metrics.bootstrap_ci([3.0, 3.0, float("nan")]) == (3.0, 3.0, 3.0)
    with pytest.raises(ValueError, match="at least one"):
        metrics.bootstrap_ci([float("nan")])


def test_fit_logs_every_kth_evaluation_and_one_closing_line():
    u = _advected(8, 24, 32)
    settings = fno.FitSettings(batch=8, lr=1e-3, max_epochs=6, eval_every=1.0, patience=100)
    lines = {}
    for every in (1, 2):
        model = fno.seeded([0], n_in=4, n_out=4, width=8, modes=4, layers=1, hidden=8)
        lines[every] = []
        result = fno.fit(
            model, [fno.TrajectoryPool.plain(u)], fno.bundled(4), u, settings, log=lines[every].append, log_every=every
        )
        assert lines[every][-1].startswith(f"ended at step {result.steps}/")
    evaluations = [line for line in lines[1] if line.startswith("step")]
    assert len(evaluations) == 6
    assert [line for line in lines[2] if line.startswith("step")] == evaluations[1::2]
    with pytest.raises(ValueError, match="log_every"):
        fno.fit(model, [fno.TrajectoryPool.plain(u)], fno.bundled(4), u, settings, log_every=0)
