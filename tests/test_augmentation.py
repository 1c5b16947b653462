"""Resampling transformed trajectories to the grid, and the augmentation driver (notebook 03)."""

import math

import pytest
import torch

from symflow import generators
from symflow.generators import FunctionField
from symflow.pde import augmentation, pde_graphs, pdes, solvers
from symflow.pde.fno import TrajectoryPool, bundled, single_time


def _constant_field(vector):
    """A FunctionField with one constant generator `vector` (3,)."""
    v = torch.tensor(vector, dtype=torch.float64)
    return FunctionField(lambda z: v.to(z)[None, :, None].expand(z.shape[0], 3, 1), 1, 3)


def _random_band_limited(b, nt, nx, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.fft.irfft(torch.randn(b, nt, nx // 4, dtype=torch.complex128, generator=g), n=nx)


@pytest.mark.parametrize("method", pde_graphs.RESAMPLING)
def test_resampling_an_untransformed_trajectory_returns_it(method):
    u = torch.randn(3, 40, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    out, covered = pde_graphs.resample_graph(pde_graphs.grid_graph(u), method)
    assert covered.all()
    assert (out - u).abs().max() <= 1e-10


@pytest.mark.parametrize("cells", [1, 3, -5])
def test_translation_by_whole_cells_is_an_exact_roll(cells):
    nx = 64
    u = torch.randn(2, 30, nx, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    coefficients = torch.full((2, 1), cells / nx, dtype=torch.float64)
    out, covered = augmentation.transform(u, _constant_field([1.0, 0.0, 0.0]), coefficients)
    assert covered.all()
    assert (out - torch.roll(u, cells, dims=-1)).abs().max() <= 1e-10


def test_subcell_shift_sinc_is_band_limited_and_bilinear_is_not():
    """A shift by 0.37 cells of a band-limited signal: sinc matches the exact shift (to the
    oversampling error), linear interpolation does not."""
    nt, nx, shift = 8, 64, 0.37
    x = torch.arange(nx, dtype=torch.float64)
    u = torch.stack([torch.sin(2 * math.pi * 11 * (x + j) / nx) for j in range(nt)])[None]
    exact = torch.stack([torch.sin(2 * math.pi * 11 * (x - shift + j) / nx) for j in range(nt)])[None]
    c = torch.full((1, 1), shift / nx, dtype=torch.float64)
    errors = {
        m: float((augmentation.transform(u, _constant_field([1.0, 0, 0]), c, method=m)[0] - exact).abs().max())
        for m in pde_graphs.RESAMPLING
    }
    assert errors["sinc"] < 1e-5
    assert errors["bilinear"] > 1e-2


def test_time_translation_cuts_uncovered_rows_and_interpolates_linearly():
    nt, nx = 20, 16
    u = torch.randn(1, nt, nx, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    c = torch.full((1, 1), 2.5 / nt, dtype=torch.float64)
    out, covered = augmentation.transform(u, _constant_field([0.0, 1.0, 0.0]), c)
    assert covered[0].tolist() == [False] * 3 + [True] * (nt - 3)
    assert (out[0, 3:] - 0.5 * (u[0, :-3] + u[0, 1:-2])).abs().max() <= 1e-10
    assert augmentation.covered_run(covered).tolist() == [[3, nt]]


def test_galilean_boost_of_kdv_matches_a_direct_solve():
    """u~(x, t) = u(x - eps t, t) + eps solves KdV from u0 + eps: flow the graph of a KdV
    solution along the Galilean field t d_x + d_u, resample, compare with that direct solve."""
    eq = pdes.get("KdV")
    nx, eps = 128, 0.05
    u0, _ = eq.initial_condition(1, torch.Generator().manual_seed(0), nx)
    times = eq.kept_times()
    u = solvers.solve(eq, u0, times)
    boost = next(s for s in eq.symmetries_of(("exact",)) if s.name.startswith("Galilean"))
    f = eq.normalised_field(boost)  # = (t / L, 0, c): u_n shifts by c eps
    field = FunctionField(lambda z: f(z)[..., None], 1, 3)
    out, covered = augmentation.transform(eq.c * u, field, torch.full((1, 1), eps, dtype=torch.float64))
    direct = solvers.solve(eq, u0 + eps, times)
    rows = covered.all(0)
    assert rows.sum() >= len(times) - 1
    error = (out[:, rows] / eq.c - direct[:, rows]).norm() / direct[:, rows].norm()
    assert error <= 1e-3


def test_orthonormalise_gives_identity_gram_and_keeps_order():
    z = torch.rand(500, 3, generator=torch.Generator().manual_seed(4))
    fields = FunctionField(
        lambda p: torch.stack(
            [
                torch.stack([torch.ones_like(p[:, 0]), p[:, 1], p[:, 2] ** 2], -1),
                torch.stack([2 * torch.ones_like(p[:, 0]), p[:, 0], p[:, 2]], -1),
            ],
            -1,
        ),
        2,
        3,
    )
    inner = augmentation.InnerProduct(z)
    ortho = generators.orthonormalise(fields, inner)
    W = ortho(z)
    assert torch.allclose(inner.gram(W, W), torch.eye(2), atol=1e-5)
    V = fields(z)
    assert torch.allclose(W[..., 0], V[..., 0] / inner.norms(V)[0], atol=1e-5)
    with pytest.raises(ValueError, match="linearly dependent"):
        generators.orthonormalise(FunctionField(lambda p: torch.stack([p, 2 * p], -1), 2, 3), inner)


def test_tabulated_field_is_exact_for_affine_fields_and_periodic_in_x():
    affine = FunctionField(
        lambda p: torch.stack(
            [
                torch.stack([torch.ones_like(p[:, 0]), 0 * p[:, 0], 0 * p[:, 0]], -1),
                torch.stack([p[:, 1], 2 * torch.ones_like(p[:, 0]), -p[:, 2]], -1),
            ],
            -1,
        ),
        2,
        3,
    )
    table = augmentation.Tabulated(affine, (-0.5, 1.5), (-2.0, 2.0), (8, 6, 5))
    z = torch.rand(300, 3, generator=torch.Generator().manual_seed(5)) * torch.tensor([1.0, 1.0, 2.0]) - torch.tensor(
        [0, 0, 1.0]
    )
    assert torch.allclose(table(z), affine(z), atol=1e-5)
    shifted = z + torch.tensor([1.0, 0.0, 0.0])
    assert torch.allclose(table(shifted), table(z), atol=1e-6)


def test_augment_rejects_copies_that_lose_the_window_and_reports_counts():
    u = _random_band_limited(4, 50, 32).float()
    shift_t = _constant_field([0.0, 1.0, 0.0])
    pool, stats = augmentation.augment(u, shift_t, bundled(20), n_copies=8, scale=0.1)
    assert isinstance(pool, TrajectoryPool) and pool.u.shape == (4, 9, 50, 32)
    assert pool.valid[:, 0].all() and stats["copies"] == 32
    kept = pool.rows[:, 1:][pool.valid[:, 1:]]
    assert ((kept[:, 1] - kept[:, 0]) >= 40).all()
    # shifts of up to 5 rows: with 50 rows every copy keeps >= 45, none rejected
    assert stats["rejected"] == 0
    with pytest.warns(UserWarning, match="rejected"):
        augmentation.augment(u, shift_t, bundled(20), n_copies=8, scale=0.8)  # |c| > 0.2 (75%) leaves < 40 rows
    with pytest.raises(ValueError, match="every one"):
        augmentation.augment(u, shift_t, single_time(0, 20, 49), n_copies=4, scale=0.1)


def test_pool_draw_only_uses_valid_rows():
    nt, nx = 50, 8
    u = torch.arange(nt, dtype=torch.float32)[None, None, :, None].expand(3, 2, nt, nx).clone()
    u[:, 1] += 1000  # copy 1 is recognisable
    rows = torch.tensor([[0, nt], [10, 50]]).expand(3, 2, 2).clone()
    valid = torch.tensor([[True, True], [True, True], [True, False]])
    pool = TrajectoryPool(u, rows, valid)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        x, y = pool.draw(torch.arange(3), bundled(20), 0.5, g)
        first = x[:, 0, 0]
        copy1 = first >= 1000
        assert (first[copy1] - 1000 >= 10).all() and not copy1[2]
        assert torch.equal(y[:, 0, 0], x[:, -1, 0] + 1)


def test_equivariance_error_of_an_exactly_equivariant_solver_is_zero():
    class Persistence(torch.nn.Module):
        """f(u) = the last input row repeated: commutes with x-translations and u-shifts."""

        n_in, n_out = 20, 20

        def forward(self, u):
            return u[:, -1:].expand(-1, 20, -1)

    u = _random_band_limited(3, 60, 32)
    err = augmentation.equivariance_error(Persistence(), u, _constant_field([1.0, 0.0, 0.3]), [0.1], bundled(20))
    assert err.shape == (3,) and float(err.max()) < 1e-4


def test_load_learned_checks_equation_and_count(tmp_path):
    from symflow import generators

    field = generators.GeneratorField(3, 4, width=8, head_width=4, periodic=(0,))
    generators.save(field, tmp_path / "g.pt", equation="KdV", nx=256)
    first = augmentation.load_learned(tmp_path / "g.pt", "KdV", 3, nx=256)
    z = torch.rand(10, 3)
    assert first.n_generators == 3 and torch.allclose(first(z), field(z)[..., :3])
    with pytest.raises(ValueError, match="not 'KS'"):
        augmentation.load_learned(tmp_path / "g.pt", "KS", 3)
    with pytest.raises(ValueError, match="nx=256 grid"):
        augmentation.load_learned(tmp_path / "g.pt", "KdV", 3, nx=128)
    with pytest.raises(ValueError, match="need >= 5"):
        augmentation.load_learned(tmp_path / "g.pt", "KdV", 5)
