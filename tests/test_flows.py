"""Flows against known answers: matrix exponentials, the group law, rigid image motions."""

import math

import pytest
import torch
from scipy.linalg import expm

from symflow import flows, generators


class LinearField(torch.nn.Module):
    """V(z) = A z, applied row-wise to points (B, n, d)."""

    def __init__(self, A):
        super().__init__()
        self.A = torch.nn.Parameter(A)

    def forward(self, z):
        return z @ self.A.T


@pytest.fixture
def linear():
    torch.manual_seed(0)
    return LinearField(torch.randn(3, 3, dtype=torch.float64) * 0.7)


def test_linear_flow_is_matrix_exponential(linear):
    z0 = torch.randn(2, 50, 3, dtype=torch.float64)
    s = torch.tensor([0.8, -1.3], dtype=torch.float64)
    out = flows.flow(linear, z0, s, steps=100)
    A = linear.A.detach().numpy()
    for b in range(2):
        exact = z0[b].numpy() @ expm(s[b].item() * A).T
        rel = abs(out[b].detach().numpy() - exact).max() / abs(exact).max()
        assert rel <= 1e-5


def test_intermediate_times_match_separate_flows(linear):
    z0 = torch.randn(1, 20, 3, dtype=torch.float64)
    path = flows.flow(linear, z0, 0.6, steps=20, times=[0.25, 0.5, 1.0])
    assert path.shape == (3, 1, 20, 3)
    A = linear.A.detach().numpy()
    for frac, state in zip([0.25, 0.5, 1.0], path):
        exact = z0[0].numpy() @ expm(0.6 * frac * A).T
        assert abs(state[0].detach().numpy() - exact).max() <= 1e-6 * abs(exact).max()


def test_group_law_and_inverse():
    torch.manual_seed(1)
    z0 = torch.rand(3, 40, 2, dtype=torch.float64)
    # unit norm at the points: the flows move them by ~0.5, so the check is not passed by standing still
    field = generators.normalise(generators.GeneratorField(2, 3, width=32).double(), generators.InnerProduct(z0[0]))
    s1, s2 = 0.3, 0.25
    one = flows.flow(field.per_generator, flows.flow(field.per_generator, z0, s1, 40), s2, 40)
    both = flows.flow(field.per_generator, z0, s1 + s2, 30)  # another step grid than the two parts'
    assert (both - z0).norm(dim=-1).min() >= 0.1
    assert (one - both).abs().max() <= 1e-8
    back = flows.flow(field.per_generator, flows.flow(field.per_generator, z0, 0.4, 40), -0.4, 40)
    assert (back - z0).abs().max() <= 1e-8


@pytest.mark.parametrize("adjoint", [False, True])
def test_gradcheck(adjoint):
    torch.manual_seed(2)
    A0 = torch.randn(2, 2, dtype=torch.float64) * 0.5

    def run(A, z0, s):
        return flows.flow(LinearFieldFunctional(A), z0, s, steps=8, adjoint=adjoint)

    z0 = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    s = torch.tensor([0.5, -0.7], dtype=torch.float64, requires_grad=True)
    A = A0.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(run, (A, z0, s), atol=1e-6, rtol=1e-4)


class LinearFieldFunctional(torch.nn.Module):
    """V(z) = A z with A an ordinary input tensor (so gradcheck can perturb it)."""

    def __init__(self, A):
        super().__init__()
        self.A = A

    def forward(self, z):
        return z @ self.A.T

    def parameters(self, recurse=True):
        return iter([self.A])


def test_gradients_reach_mlp_parameters_with_adjoint():
    torch.manual_seed(3)
    field = generators.GeneratorField(2, 2, width=16).double()
    z0 = torch.rand(2, 10, 2, dtype=torch.float64)
    losses = []
    for adjoint in (False, True):
        field.zero_grad()
        flows.flow(field.per_generator, z0, 0.3, steps=10, adjoint=adjoint).pow(2).sum().backward()
        losses.append(torch.cat([p.grad.flatten() for p in field.parameters()]))
    assert torch.allclose(losses[0], losses[1], rtol=1e-6, atol=1e-9)


def _digit_like(h=28, w=28):
    """A smooth asymmetric blob image (1, 1, h, w) that vanishes near the border."""
    ys, xs = torch.meshgrid(
        torch.linspace(-1, 1, h, dtype=torch.float64), torch.linspace(-1, 1, w, dtype=torch.float64), indexing="ij"
    )
    img = torch.exp(-((xs - 0.1) ** 2 / 0.05 + (ys + 0.15) ** 2 / 0.12)) + 0.5 * torch.exp(
        -((xs + 0.3) ** 2 + (ys - 0.3) ** 2) / 0.02
    )
    return img[None, None]


def test_translation_shifts_image_by_whole_pixels():
    img = _digit_like()
    field = generators.affine_fields()
    pixels = 3
    s = pixels * 2 / (28 - 1)  # grid spacing is 2/(W-1) with align_corners=True
    out = flows.warp_images(img, field, s, steps=4)[0, 0, 0]  # generator 0 translates x
    expected = torch.zeros_like(img[0, 0])
    expected[:, pixels:] = img[0, 0, :, :-pixels]
    assert (out - expected).abs().max() <= 1e-6
    down = flows.warp_images(img, field, s, steps=4)[1, 0, 0]  # generator 1 translates y
    expected = torch.zeros_like(img[0, 0])
    expected[pixels:, :] = img[0, 0, :-pixels, :]
    assert (down - expected).abs().max() <= 1e-6


def test_rotation_field_rotates_image():
    img = _digit_like()
    affine = generators.affine_fields()
    rotation = generators.FunctionField(lambda z: (affine(z)[:, :, 5] - affine(z)[:, :, 4])[:, :, None], 1, 2)
    angle = 0.35
    out = flows.warp_images(img, rotation, angle, steps=40)[0, 0, 0]
    # out(p) = img(R(-angle) p): rotate the sampling grid directly.
    p = generators.grid_points(28, 28, dtype=torch.float64)
    c, s = math.cos(angle), math.sin(angle)
    R = torch.tensor([[c, s], [-s, c]], dtype=torch.float64)  # rotation by -angle
    grid = (p @ R.T).reshape(1, 28, 28, 2)
    expected = flows.sample_images(img, grid)[0, 0]
    assert (out - expected).abs().max() <= 1e-6
    assert (out - img[0, 0]).abs().max() > 0.1  # it did move


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(points=torch.zeros(5, 2)), "points"),
        (dict(steps=0), "steps"),
        (dict(s=torch.zeros(3)), "s must"),
        (dict(times=[0.0, 0.5]), "times"),
    ],
)
def test_bad_flow_input_names_parameter(bad, match):
    args = dict(field=lambda z: z, points=torch.zeros(2, 5, 2), s=0.1, steps=4)
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        flows.flow(**args)


def test_bad_image_shape_names_parameter():
    with pytest.raises(ValueError, match="images"):
        flows.warp_images(torch.zeros(28, 28), generators.affine_fields(), 0.1)
