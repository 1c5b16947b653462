"""Generator fields and inner products."""

import pytest
import torch

from symflow import generators


def test_per_generator_uses_only_its_own_head():
    torch.manual_seed(0)
    field = generators.GeneratorField(3, 4, width=32)
    z = torch.rand(4, 7, 3)
    direct = field.per_generator(z)
    for a in range(4):
        assert torch.allclose(direct[a], field(z[a])[:, :, a], atol=1e-6)
    # changing head 2's weights leaves the other generators' outputs untouched
    with torch.no_grad():
        field.w2[2] += 1.0
    after = field.per_generator(z)
    assert torch.allclose(after[[0, 1, 3]], direct[[0, 1, 3]])
    assert not torch.allclose(after[2], direct[2])


def test_periodic_coordinate_is_periodic():
    field = generators.GeneratorField(3, 2, width=16, periodic=(0,))
    z = torch.rand(30, 3)
    shifted = z + torch.tensor([1.0, 0.0, 0.0])
    assert torch.allclose(field(z), field(shifted), atol=1e-5)
    assert not torch.allclose(field(z), field(z + torch.tensor([0.0, 0.5, 0.0])), atol=1e-3)


def test_normalised_affine_fields_are_orthonormal_under_uniform_weight():
    inner = generators.InnerProduct(generators.grid_points(28, 28, dtype=torch.float64))
    V = inner.evaluate(generators.normalise(generators.affine_fields(), inner))
    assert torch.allclose(inner.gram(V, V), torch.eye(6, dtype=torch.float64), atol=1e-10)


def test_normalise_gives_unit_norms_under_weights():
    torch.manual_seed(1)
    points = generators.grid_points(10, 12)
    inner = generators.InnerProduct(points, torch.rand(120))
    field = generators.normalise(generators.GeneratorField(2, 5, width=16), inner)
    assert torch.allclose(inner.norms(inner.evaluate(field)), torch.ones(5), atol=1e-5)
    # per_generator agrees with forward after normalisation
    z = torch.rand(5, 9, 2)
    assert torch.allclose(field.per_generator(z), generators.Field.per_generator(field, z), atol=1e-6)


def test_weighted_inner_product_weights_points():
    points = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    V = torch.tensor([[[1.0], [0.0]], [[3.0], [0.0]]])  # (n=2, d=2, A=1)
    assert torch.isclose(generators.InnerProduct(points).gram(V, V)[0, 0], torch.tensor(5.0))
    weighted = generators.InnerProduct(points, torch.tensor([3.0, 1.0]))
    assert torch.isclose(weighted.gram(V, V)[0, 0], torch.tensor((3 * 1 + 1 * 9) / 4))


def test_save_and_load_roundtrip(tmp_path):
    field = generators.GeneratorField(3, 4, width=24, head_width=8, periodic=(0,))
    path = generators.save(field, tmp_path / "g.pt", equation="KdV")
    loaded = generators.load(path)
    z = torch.rand(11, 3)
    assert torch.equal(field(z), loaded(z))
    assert loaded.metadata == {"equation": "KdV"} and loaded.config == field.config


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(dim=2, n_generators=0), "n_generators"),
        (dict(dim=2, n_generators=-3), "n_generators"),
        (dict(dim=0, n_generators=2), "dim"),
        (dict(dim=2, n_generators=2, periodic=(5,)), "periodic"),
        (dict(dim=3, n_generators=2, affine={"centre": [0.0, 0.5], "scale": [1.0, 1.0, 1.0]}), "affine"),
        (dict(dim=3, n_generators=2, affine={"centre": [0.0, 0.5, 0.0]}), "affine"),
        (dict(dim=3, n_generators=2, affine={"centre": [0.0, 0.5, 0.0], "scale": 2.0}), "affine"),
    ],
)
def test_bad_configuration_names_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        generators.GeneratorField(**kwargs)


def test_wrong_point_shape_is_a_value_error():
    field = generators.GeneratorField(2, 3, width=8)
    with pytest.raises(ValueError, match="z must have shape"):
        field(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="N=3"):
        field.per_generator(torch.zeros(2, 5, 2))


AFFINE = {"centre": [0.0, 0.5, 0.0], "scale": [0.0, 2.0, 2.0]}


def test_affine_part_starts_at_zero_and_adds_a_linear_map_of_the_plain_coordinates(tmp_path):
    """With A = 0 the field is the plain MLP (same seed, same weights); with A set, the difference
    is A_a^T (2 (t - 0.5), 2 u), independent of the periodic x, in both evaluation forms."""
    torch.manual_seed(3)
    plain = generators.GeneratorField(3, 2, width=16, periodic=(0,))
    torch.manual_seed(3)
    field = generators.GeneratorField(3, 2, width=16, periodic=(0,), affine=AFFINE)
    z = torch.rand(40, 3)
    assert torch.equal(field(z), plain(z))
    with torch.no_grad():
        field.A.copy_(
            torch.tensor(
                [
                    [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]],  # V1 += 2 (t - 0.5) d_x
                    [[0.0, 0.0, 0.0], [0.0, 0.0, -3.0]],
                ]
            )
        )  # V2 += -6 u d_u
    diff = field(z) - plain(z)
    expected = torch.zeros(40, 3, 2)
    expected[:, 0, 0], expected[:, 2, 1] = 2 * (z[:, 1] - 0.5), -6 * z[:, 2]
    torch.testing.assert_close(diff, expected)
    zz = torch.rand(2, 9, 3)
    torch.testing.assert_close(field.per_generator(zz), generators.Field.per_generator(field, zz))
    torch.testing.assert_close(field(z + torch.tensor([1.0, 0.0, 0.0])), field(z), atol=1e-5, rtol=0)
    loaded = generators.load(generators.save(field, tmp_path / "g.pt"))
    assert torch.equal(loaded(z), field(z)) and loaded.config["affine"] == AFFINE


def test_affine_part_speeds_up_learning_a_shear():
    """The sensitivity of a generator's projection on the centred shear (t - 1/2) d_x to the
    weights, at initialisation: the affine part makes it at least 10x the plain MLP's (the
    plain MLP's is 1/30 of its sensitivity to a constant field)."""
    z = torch.rand(2000, 3)
    shear = torch.zeros(2000, 3)
    shear[:, 0] = z[:, 1] - 0.5

    def sensitivity(field, target):
        projection = (field(z)[..., 0] * target).sum(1).mean() / target.square().sum(1).mean().sqrt()
        grads = torch.autograd.grad(projection, list(field.parameters()))
        return float(sum(g.square().sum() for g in grads).sqrt())

    constant = torch.zeros(2000, 3)
    constant[:, 2] = 1.0
    for seed in range(3):
        torch.manual_seed(seed)
        plain = generators.GeneratorField(3, 2, width=32, head_width=16, periodic=(0,))
        torch.manual_seed(seed)
        affine = generators.GeneratorField(
            3, 2, width=32, head_width=16, periodic=(0,), affine={"centre": [0.0, 0.5, 0.0], "scale": [0.0, 3.464, 0.0]}
        )
        assert sensitivity(plain, shear) < sensitivity(plain, constant) / 10
        assert sensitivity(affine, shear) > 10 * sensitivity(plain, shear)


def test_inputs_scale_what_the_mlp_sees_and_survive_save_and_load(tmp_path):
    """`inputs` feeds the MLP s_k (z_k - c_k) for the non-periodic coordinates (scale 0: as given):
    the same weights on the scaled inputs of a plain field give the same values."""
    inputs = {"centre": [0.0, 0.5, 0.0], "scale": [0.0, 4.0, 0.0]}
    torch.manual_seed(0)
    scaled = generators.GeneratorField(3, 2, 8, 4, periodic=(0,), inputs=inputs)
    plain = generators.GeneratorField(3, 2, 8, 4, periodic=(0,))
    plain.load_state_dict({k: v for k, v in scaled.state_dict().items() if not k.startswith("input_")})
    z = torch.rand(5, 3)
    moved = z.clone()
    moved[:, 1] = 4.0 * (z[:, 1] - 0.5)
    torch.testing.assert_close(scaled(z), plain(moved))
    generators.save(scaled, tmp_path / "f.pt")
    torch.testing.assert_close(generators.load(tmp_path / "f.pt")(z), scaled(z))
    with pytest.raises(ValueError, match="inputs must be None"):
        generators.GeneratorField(3, 2, inputs={"centre": [0.0]})
