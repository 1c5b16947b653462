"""FNO1d, LPSDA-style windows, rollout NMSE, bootstrap intervals (notebook 03)."""
import math

import pytest
import torch

from symflow import fno, metrics


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
    layer = fno.SpectralConv1d(6, 5)
    h = torch.randn(2, 6, 32, dtype=torch.float32)
    assert torch.allclose(layer(torch.roll(h, 7, -1)), torch.roll(layer(h), 7, -1), atol=1e-6)


class _Oracle(torch.nn.Module):
    """The exact solver of `_advected` with speed 1: shifts the last row by 1..n_out cells."""
    n_in = n_out = 4

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, u):
        return torch.stack([torch.roll(u[:, -1], k, -1) for k in range(1, 5)], 1)


def test_rollout_of_the_exact_solver_has_zero_nmse_and_a_wrong_one_does_not():
    u = _advected(3, 14, 32)
    task = fno.bundled(4)
    pred, true = fno.predict(_Oracle(), u, task)
    assert pred.shape == true.shape == (3, 8, 32)            # (14 - 4) // 4 = 2 bundles
    assert torch.allclose(fno.nmse(_Oracle(), u, task), torch.zeros(3), atol=1e-10)
    assert (fno.nmse(_Oracle(), _advected(3, 14, 32, speed=2), task) > 0.1).all()
    single = fno.single_time(first=2, n_in=4, target=9)       # rows 2..5 -> row 9
    p, t = fno.predict(_Oracle().eval(), u, fno.Task(4, 4, 4, 2))
    assert torch.allclose(p, t, atol=1e-6) and single.span == 8 and single.lead == 7


def test_training_reduces_the_loss():
    u = _advected(16, 24, 32)
    model = fno.FNO1d(n_in=4, n_out=4, width=16, modes=8, layers=2)
    task = fno.bundled(4)
    before = float(fno.nmse(model, u, task).mean())
    history = fno.train(model, fno.TrajectoryPool.plain(u), task, steps=60, batch=8, lr=3e-3)
    assert len(history["loss"]) == 60 and history["seconds"] > 0
    assert float(fno.nmse(model, u, task).mean()) < 0.5 * before


def test_pool_subset_and_task_checks():
    pool = fno.TrajectoryPool.plain(torch.zeros(8, 30, 16))
    assert pool.subset(4).u.shape == (4, 1, 30, 16)
    with pytest.raises(ValueError, match="n must be in 1..8"):
        pool.subset(9)
    with pytest.raises(ValueError, match="needs 40"):
        fno.train(fno.FNO1d(width=4, modes=2, layers=1), pool, fno.bundled(20), steps=1)


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
