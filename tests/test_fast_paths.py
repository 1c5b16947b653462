"""Every fast path of the PDE learner gives the plain computation's values and gradients.

The plain references are written out here: torchdiffeq's fixed-grid RK4 for the flows, the
row stencils as explicit weighted sums for the derivatives, a separate evaluation of the field
for the first RK4 stage and for the inner product, and list indexing for the field's inputs.
"""

import pytest
import torch
from torchdiffeq import odeint

from symflow import flows, generators, losses, profiles
from symflow.generators import InnerProduct
from symflow.pde import derivatives, pde_graphs, pde_learning, pdes

LEARN = profiles.get("quick", "pde_symmetries")["learn"]


def field64(seed=0):
    return pde_learning.new_field(LEARN, seed).double()


def grads(value, params):
    return torch.autograd.grad(value, params, allow_unused=True)


def close_grads(a, b, tol=1e-6):
    for ga, gb in zip(a, b):
        if ga is None or gb is None:
            assert ga is None and gb is None
            continue
        assert torch.allclose(ga, gb, rtol=tol, atol=tol * max(1.0, float(gb.abs().max())))


def plain_flow(field, points, s, steps, times):
    t = torch.tensor([0.0, *(times or [1.0])], dtype=points.dtype)
    path = odeint(flows._ScaledField(field, s), points, t, method="rk4", options={"step_size": 1.0 / steps})
    return path[-1] if times is None else path[1:]


@pytest.mark.parametrize("steps, times", [(2, [0.5, 1.0]), (3, [0.25, 2 / 3, 1.0]), (10, None), (1, [0.3, 1.0])])
def test_rk4_matches_torchdiffeq_values_and_gradients(steps, times):
    field = field64()
    z = torch.rand(4, 300, 3, dtype=torch.float64)
    s = torch.tensor([0.3, -0.2, 0.1, 0.4], dtype=torch.float64, requires_grad=True)
    fast = flows.flow(field.per_generator, z, s, steps, times)
    plain = plain_flow(field.per_generator, z, s, steps, times)
    assert torch.allclose(fast, plain, atol=1e-12)
    params = [*field.parameters(), s]
    close_grads(grads(fast.square().sum(), params), grads(plain.square().sum(), params))


def plain_row_derivative(f, order):
    """df/di by explicit stencil sums (centred inside, one-sided on order + 1 rows at the ends)."""
    nt, half = f.shape[-2], order // 2
    rows = []
    for i in range(nt):
        offsets = (
            range(-half, half + 1)
            if half <= i < nt - half
            else (range(-i, order + 1 - i) if i < half else range(nt - 1 - i - order, nt - i))
        )
        w = derivatives._fd_weights(tuple(offsets))
        rows.append(sum(wk * f[..., i + o, :] for wk, o in zip(w, offsets)))
    return torch.stack(rows, -2)


@pytest.mark.parametrize("nt, order", [(7, 6), (8, 6), (20, 6), (9, 4), (5, 2)])
def test_row_derivative_matrix_equals_stencil_sums(nt, order):
    f = torch.randn(2, 3, nt, 16, dtype=torch.float64, requires_grad=True)
    fast, plain = derivatives._d_row(f, order), plain_row_derivative(f, order)
    assert torch.allclose(fast, plain, atol=1e-12)
    w = torch.randn_like(plain)
    close_grads(grads((fast * w).sum(), [f]), grads((plain * w).sum(), [f]))


def test_row_derivative_is_exact_for_polynomials_of_its_order():
    i = torch.arange(9, dtype=torch.float64)[:, None].expand(9, 4)
    assert torch.allclose(derivatives._d_row(i**6, 6), 6 * i**5, atol=1e-8)


def test_shared_first_stage_gives_the_same_moved_graph_and_gradients():
    field = field64()
    graph = torch.rand(2, 8, 32, 3, dtype=torch.float64)
    s = torch.tensor([0.3, -0.2, 0.1, 0.4], dtype=torch.float64)
    fast = pde_graphs.transform_graph(field, graph, s, 2, [0.5, 1.0])
    points = graph.reshape(1, -1, 3).expand(4, -1, -1)
    plain = flows.flow(field.per_generator, points, s, 2, [0.5, 1.0]).reshape(fast.shape)
    assert torch.allclose(fast, plain, atol=1e-13)
    params = list(field.parameters())
    close_grads(grads(fast.sum(), params), grads(plain.sum(), params))


def test_loss_terms_equal_the_plain_composition():
    eq = pdes.get("KdV")
    field = field64(1)
    gen = torch.Generator().manual_seed(0)
    patches = torch.rand(2, 8, 64, 3, dtype=torch.float64) * 0.2 + torch.tensor([0.0, 0.4, 0.0], dtype=torch.float64)
    patches[..., 0] = torch.arange(64, dtype=torch.float64) / 64
    inner = InnerProduct(torch.rand(256, 3, dtype=torch.float64))
    s = torch.tensor([0.2, -0.1, 0.3, 0.05], dtype=torch.float64)
    params = dict(LEARN, n_inner=256)
    fast = pde_learning.loss_terms(field, eq, patches, s, params, True, gen, inner)
    V = generators.normalise(field, inner)  # the plain composition
    grid = patches[0]
    values = V(grid.reshape(-1, 3)).reshape(*grid.shape, -1)
    plain = {
        "validity": pde_graphs.validity(V, eq, patches, s, params["steps"], params["times"]),
        "ortho": losses.orthonormality(V(inner.points), inner, params["ortho_mode"]),
        "lipschitz": losses.lipschitz(values, params["tau"], grid),
        "sobolev": losses.sobolev(values, axis=1),
    }
    weights = params["weights"]
    theta = list(field.parameters())
    for name in plain:
        assert torch.allclose(fast[name], plain[name], rtol=1e-10, atol=1e-12), name
    close_grads(
        grads(pde_learning.total_loss(fast, weights), theta), grads(pde_learning.total_loss(plain, weights), theta)
    )


def test_sliced_inputs_equal_list_indexing():
    z = torch.rand(5, 4, dtype=torch.float64)
    for index in ([1, 2], [0], [0, 2], [3, 1], [1, 2, 3]):
        assert torch.equal(generators._columns(z, index), z[..., index])


def test_warped_images_with_the_shared_first_stage_equal_the_plain_flow():
    field = generators.GeneratorField(2, 3, width=16).double()
    images = torch.rand(2, 1, 9, 9, dtype=torch.float64)
    s = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    fast = flows.warp_images(images, field, s, steps=2)
    grid = generators.grid_points(9, 9, dtype=torch.float64)
    moved = plain_flow(field.per_generator, grid.expand(3, -1, -1), -s, 2, None)
    grids = moved.reshape(3, 1, 9, 9, 2).expand(3, 2, 9, 9, 2).reshape(6, 9, 9, 2)
    plain = flows.sample_images(images.expand(3, 2, 1, 9, 9).reshape(6, 1, 9, 9), grids).reshape(fast.shape)
    assert torch.allclose(fast, plain, atol=1e-12)
    params = list(field.parameters())
    close_grads(grads(fast.square().sum(), params), grads(plain.square().sum(), params))


def test_image_learner_normalises_once_per_iteration_as_before():
    """One iteration of image_symmetries.learn_symmetries equals the loss composed with norms recomputed at
    every use (the former normalised field)."""
    from symflow.image import image_symmetries

    torch.manual_seed(0)
    features = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 7 * 7, 8)).double()
    for p in features.parameters():
        p.requires_grad_(False)
    x = torch.rand(6, 1, 9, 9, dtype=torch.float64)
    inner = image_symmetries.image_inner_product(torch.rand(81, dtype=torch.float64) + 0.5, 9, 9)
    field = generators.GeneratorField(2, 3, width=16).double()
    start = [p.detach().clone() for p in field.parameters()]
    h = image_symmetries.learn_symmetries(
        features, x, field, inner, image_symmetries.ImageLearning(1, batch_size=4, lr=1e-2, steps=2), seed=3, log=None
    )

    class Recomputed(generators.Field):  # norms recomputed at every call, the plain way
        def __init__(self, f):
            super().__init__()
            self.f, self.dim, self.n_generators = f, f.dim, f.n_generators

        def norms(self):
            return inner.norms(self.f(inner.points)).clamp_min(1e-12)

        def forward(self, z):
            return self.f(z) / self.norms()

        def per_generator(self, z):
            return self.f.per_generator(z) / self.norms()[:, None, None]

    again = generators.GeneratorField(2, 3, width=16).double()
    with torch.no_grad():
        for p, q in zip(again.parameters(), start):
            p.copy_(q)
    gen = torch.Generator().manual_seed(3)
    idx = torch.randint(len(x), (4,), generator=gen)
    s = (2 * torch.rand(3, generator=gen) - 1) * 0.4
    V = Recomputed(again)
    h0 = features(x[idx])
    h1 = features(flows.warp_images(x[idx], V, s.double(), 2).flatten(0, 1)).reshape(3, 4, -1)
    validity = sum(losses.feature_validity(h0, h1[a]) for a in range(3))
    W = V(inner.points)
    loss = (
        validity + 10 * losses.orthonormality(W, inner, "pairwise") + 10 * losses.lipschitz(W.reshape(9, 9, 2, -1), 0.5)
    )
    assert h["loss"][0] == pytest.approx(float(loss), rel=1e-9)
    opt = torch.optim.Adam(again.parameters(), lr=1e-2)  # and the same gradient: the same Adam step
    loss.backward()
    opt.step()
    for p, q in zip(field.parameters(), again.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


@pytest.mark.parametrize("arch, shape", [("SmallCNN", (1, 28, 28)), ("ResNet18", (3, 32, 32))])
def test_frozen_features_with_folded_batch_norms_equal_the_model(arch, shape):
    from symflow.image import images

    torch.manual_seed(0)
    data = images.ImageData(
        "test",
        torch.rand(8, *shape),
        torch.arange(8) % 10,
        torch.rand(8, *shape),
        torch.arange(8) % 10,
        [str(c) for c in range(10)],
    )
    model = images.make_classifier(arch, data, 8)
    model.train()
    with torch.no_grad():  # non-trivial running statistics and affine parameters
        for _ in range(3):
            model(torch.rand(16, *shape))
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    features = images.frozen_features(model)
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in features.__self__.modules())
    x = torch.rand(5, *shape, requires_grad=True)
    fast, plain = features(x), model.features(x)
    assert torch.allclose(fast, plain, rtol=1e-5, atol=1e-5 * float(plain.abs().max()))
    (g_fast,) = torch.autograd.grad(fast.square().sum(), x)
    (g_plain,) = torch.autograd.grad(plain.square().sum(), x)
    assert torch.allclose(g_fast, g_plain, rtol=1e-4, atol=1e-5 * float(g_plain.abs().max()))
