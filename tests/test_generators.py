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


@pytest.mark.parametrize("kwargs, name", [
    (dict(dim=2, n_generators=0), "n_generators"),
    (dict(dim=2, n_generators=-3), "n_generators"),
    (dict(dim=0, n_generators=2), "dim"),
    (dict(dim=2, n_generators=2, periodic=(5,)), "periodic"),
])
def test_bad_configuration_names_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        generators.GeneratorField(**kwargs)


def test_wrong_point_shape_is_a_value_error():
    field = generators.GeneratorField(2, 3, width=8)
    with pytest.raises(ValueError, match="z must have shape"):
        field(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="N=3"):
        field.per_generator(torch.zeros(2, 5, 2))
