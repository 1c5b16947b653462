"""Tests of symflow.image.image_augmentation at the smoke profile: parameters, subsets, seed assignment,
field loading, augmentations, paired comparison tables and the closing verdict."""

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from symflow import generators, io, profiles
from symflow.image import image_augmentation as ia
from symflow.image import images


@pytest.fixture(scope="module")
def mnist():
    return images.load_dataset("mnist")


def _symmetries_folder(path, seeds, n_generators=10, size=28):
    """A fake notebook-04 results folder: a random pixel weight, small learned fields and the
    untrained ones (another initialisation, as notebook 04 writes them beside the learned)."""
    g = torch.Generator().manual_seed(0)
    weight = 0.5 + torch.rand(size, size, generator=g)
    io.write_netcdf(xr.Dataset({"weight": (("row", "col"), weight.numpy())}), path / "shared" / "pixel_weight.nc")
    for s in seeds:
        torch.manual_seed(s)
        generators.save(
            generators.GeneratorField(2, n_generators, width=16, head_width=8),
            path / f"learned_field_seed{s}.pt",
            seed=s,
        )
        torch.manual_seed(100 + s)
        generators.save(
            generators.GeneratorField(2, n_generators, width=16, head_width=8), path / f"untrained_field_seed{s}.pt"
        )
    return path


# ------------------------------------------------------------------------------------ parameters


def test_overrides_merge_deeply_and_unknown_keys_list_the_valid_ones():
    p = ia.parameters("smoke", {"epochs": 3, "seeds": [4]})
    assert p["epochs"] == 3 and p["seeds"] == [4] and p["arch"] == "SmallCNN"
    nested = profiles.merge({"a": {"b": 1, "c": 2}, "d": 0}, {"a": {"b": 5}})
    assert nested == {"a": {"b": 5, "c": 2}, "d": 0}
    with pytest.raises(ValueError, match="unknown key 'epoch'.*valid keys:.*train_per_class.*epochs"):
        ia.parameters("smoke", {"epoch": 3})
    with pytest.raises(ValueError, match=r"overrides\['a'\]: unknown key 'x'; valid keys: b, c"):
        profiles.merge({"a": {"b": 1, "c": 2}}, {"a": {"x": 1}})


def test_profiles_keep_smoke_small_and_paper_on_cifar():
    smoke, quick, paper = (ia.parameters(p) for p in ("smoke", "quick", "paper"))
    assert len(smoke["seeds"]) <= 5 and smoke["width"] <= 4 and smoke["epochs"] <= 2
    assert len(quick["seeds"]) >= 10 and quick["scale"] == pytest.approx(0.1 / 6**0.5, rel=1e-3)
    assert paper["dataset"] == "cifar10" and paper["arch"] == "ResNet18" and paper["epochs"] == 200
    assert paper["seeds"] == [0, 1, 2] and paper["train_per_class"] is None


# ------------------------------------------------------------------------------- subsets and seeds


def test_stratified_subset_has_the_requested_count_per_class(mnist):
    idx = ia.stratified_subset(mnist.train_y, 7, seed=3)
    assert torch.equal(torch.bincount(mnist.train_y[idx]), torch.full((10,), 7))
    assert len(set(idx.tolist())) == 70
    assert torch.equal(idx, ia.stratified_subset(mnist.train_y, 7, seed=3))
    assert not torch.equal(idx, ia.stratified_subset(mnist.train_y, 7, seed=4))
    assert len(ia.stratified_subset(mnist.train_y, None, 0)) == len(mnist.train_y)
    with pytest.raises(ValueError, match="per_class must be an integer from 1 to 400"):
        ia.stratified_subset(mnist.train_y, 401, 0)


def test_generator_seeds_cycle_through_symmetry_seeds():
    assert ia.generator_seeds(7, [0, 1, 2]) == [0, 1, 2, 0, 1, 2, 0]
    assert ia.generator_seeds(3, [5]) == [5, 5, 5]
    with pytest.raises(ValueError, match="at least one"):
        ia.generator_seeds(3, [])


def test_learned_runs_use_and_record_the_cycled_generator_seed(mnist):
    used = []

    def recorder(g):
        def aug(x, gen):
            used.append(g)
            return x

        return aug

    params = ia.parameters("smoke", {"seeds": [0, 1, 2, 3], "symmetry_seeds": [7, 8], "test_per_class": 2})
    run = ia.run_configuration("learned", {7: recorder(7), 8: recorder(8)}, mnist, params, log=None)
    assert run["generator_seed"] == [7, 8, 7, 8]
    batches = len(used) // 4  # each run draws the same number of batches
    assert used == [7] * batches + [8] * batches + [7] * batches + [8] * batches
    assert run["correct"].shape == (4, 20) and set(np.unique(run["correct"])) <= {0, 1}
    np.testing.assert_allclose(run["accuracy"], run["correct"].mean(1))
    table = ia.accuracy_table({"learned": run})
    assert list(table.generator_seed) == [7, 8, 7, 8] and list(table.n_train) == [50] * 4
    with pytest.raises(ValueError, match=r"no learned field for generator seed\(s\) \[8\]"):
        ia.run_configuration("learned", {7: recorder(7)}, mnist, params, log=None)


# ------------------------------------------------------------------------------------------ fields


def test_missing_field_file_is_named_with_the_command_that_makes_it(tmp_path):
    _symmetries_folder(tmp_path, [0])
    with pytest.raises(FileNotFoundError) as err:
        ia.load_fields(tmp_path, [0, 2], 6, 28, 28, profile="quick")
    msg = str(err.value)
    assert str(tmp_path / "learned_field_seed2.pt") in msg
    assert (
        "python -m symflow.runner 04_image_symmetries --profile quick --tag seed2 -p 'overrides={\"seed\": 2}'" in msg
    )
    (tmp_path / "shared" / "pixel_weight.nc").unlink()
    with pytest.raises(FileNotFoundError, match="pixel_weight.nc is missing"):
        ia.load_fields(tmp_path, [0], 6, 28, 28)


def test_loaded_fields_are_normalised_and_cut_to_n_fields(tmp_path):
    _symmetries_folder(tmp_path, [0, 1])
    fields = ia.load_fields(tmp_path, [1, 0], 6, 28, 28)
    assert sorted(fields.learned) == [0, 1] and fields.affine.n_generators == 6 and fields.untrained == {}
    for f in [fields.affine, *fields.learned.values()]:
        assert f.n_generators == 6
        norms = fields.inner.norms(fields.inner.evaluate(f))
        torch.testing.assert_close(norms, torch.ones(6), atol=1e-4, rtol=0)
    both = ia.load_fields(tmp_path, [0, 1], 6, 28, 28, untrained=True)
    assert sorted(both.untrained) == [0, 1]
    for f in [*both.learned.values(), *both.untrained.values()]:  # orthonormal, in order
        V = both.inner.evaluate(f)
        torch.testing.assert_close(both.inner.gram(V, V), torch.eye(6), atol=1e-4, rtol=0)
    first = generators.load(tmp_path / "untrained_field_seed0.pt")
    v1 = generators.normalise(first, both.inner)(both.inner.points)[..., 0]
    torch.testing.assert_close(both.untrained[0](both.inner.points)[..., 0], v1, atol=1e-5, rtol=0)
    assert not torch.allclose(both.untrained[0](both.inner.points), both.learned[0](both.inner.points))
    augs = ia.make_augmentations(ia.parameters("smoke"), (1, 28, 28), both)
    assert sorted(augs["untrained"]) == [0, 1] and "untrained" not in ia.make_augmentations(
        ia.parameters("smoke"), (1, 28, 28), fields
    )
    (tmp_path / "untrained_field_seed1.pt").unlink()
    with pytest.raises(FileNotFoundError, match="untrained_field_seed1.pt is missing"):
        ia.load_fields(tmp_path, [0, 1], 6, 28, 28, untrained=True)
    assert not torch.allclose(fields.learned[0](fields.inner.points), fields.learned[1](fields.inner.points))
    with pytest.raises(ValueError, match="holds 784 pixel weights; the images have 32x32 = 1024"):
        ia.load_fields(tmp_path, [0], 6, 32, 32)
    with pytest.raises(ValueError, match="n_fields must be from 1 to 10"):
        ia.load_fields(tmp_path, [0], 11, 28, 28)


def test_zero_scale_flow_augmentations_leave_images_unchanged(tmp_path, mnist):
    fields = ia.load_fields(_symmetries_folder(tmp_path, [0]), [0], 6, 28, 28)
    x = mnist.train_x[:16].double()  # float64: float32 resampling at the pixel centres rounds to ~3e-6
    augs = ia.make_augmentations(ia.parameters("smoke", {"scale": 0.0}), mnist.shape, fields)
    for aug in (augs["affine"], augs["learned"][0]):
        torch.testing.assert_close(aug(x, torch.Generator().manual_seed(0)), x, atol=1e-6, rtol=0)
        torch.testing.assert_close(aug(x.float(), torch.Generator().manual_seed(0)), x.float(), atol=1e-5, rtol=0)
    moved = ia.make_augmentations(ia.parameters("smoke"), mnist.shape, fields)["affine"]
    assert float((moved(x, torch.Generator().manual_seed(0)) - x).abs().max()) > 1e-2
    assert augs["none"] is None


# ----------------------------------------------------------------------------- comparison tables


def test_a_configuration_compared_with_itself_differs_by_zero(mnist):
    params = ia.parameters("smoke", {"seeds": [0, 1]})
    first = ia.run_configuration("none", None, mnist, params, log=None)
    again = ia.run_configuration("none", None, mnist, params, log=None)  # same seeds: same classifiers
    np.testing.assert_array_equal(first["correct"], again["correct"])
    table = ia.comparison_table({"none": first, "affine": again}, [("affine", "none")], n_boot=200)
    row = table.iloc[0]
    assert (row.difference, row.low, row.high) == (0.0, 0.0, 0.0) and not row.excludes_zero
    assert (row.seeds, row["items"]) == (2, 200)


def _fake_runs(rates, n_seeds=4, n_items=500, seed=0):
    g = np.random.default_rng(seed)
    return {
        name: {"seeds": list(range(n_seeds)), "correct": (g.random((n_seeds, n_items)) < p).astype(np.uint8)}
        for name, p in rates.items()
    }


def test_comparison_table_in_points_and_refuses_unpaired_runs():
    runs = _fake_runs({"none": 0.5, "affine": 0.9, "learned": 0.7, "default": 0.5, "untrained": 0.6})
    table = ia.comparison_table(runs, n_boot=500).set_index("comparison")
    assert list(table.index) == [
        "affine - none",
        "learned - none",
        "learned - affine",
        "learned - untrained",
        "untrained - none",
        "default - none",
    ]
    assert table.loc["learned - untrained", "low"] > 0 and table.loc["untrained - none", "low"] > 0
    expect = 100 * (runs["affine"]["correct"].mean() - runs["none"]["correct"].mean())
    assert table.loc["affine - none", "difference"] == pytest.approx(expect)
    assert 30 < table.loc["affine - none", "low"] < expect < table.loc["affine - none", "high"] < 50
    assert table.loc["learned - affine", "high"] < 0 and table.loc["affine - none", "excludes_zero"]
    runs["learned"]["seeds"] = [9, 1, 2, 3]
    with pytest.raises(ValueError, match="same seeds"):
        ia.comparison_table(runs)


def test_conclusion_reads_learned_only_when_the_control_passes():
    passed = ia.conclusion(ia.comparison_table(_fake_runs({"none": 0.5, "affine": 0.9, "learned": 0.9}), n_boot=300))
    assert "positive control passed" in passed and "learned augmentation beats no augmentation" in passed
    assert "not distinguishable from affine" in passed
    runs = _fake_runs({"none": 0.8, "learned": 0.95})
    runs["affine"] = runs["none"]  # affine - none exactly 0
    failed = ia.conclusion(ia.comparison_table(runs, n_boot=300))
    assert "positive control FAILED" in failed and "no conclusion" in failed
    assert "learned - none" not in failed and "beats no augmentation" not in failed
    with pytest.raises(ValueError, match="positive control"):
        ia.conclusion(pd.DataFrame({"comparison": ["learned - none"]}))


def test_conclusion_reads_the_negative_control():
    same = _fake_runs({"none": 0.5, "affine": 0.9, "learned": 0.9})
    same["untrained"] = same["learned"]  # learned - untrained exactly 0
    text = ia.conclusion(ia.comparison_table(same, n_boot=300))
    assert "untrained-field augmentation beats no augmentation" in text
    assert "learned and untrained fields are not distinguishable" in text
    better = ia.conclusion(
        ia.comparison_table(_fake_runs({"none": 0.5, "affine": 0.9, "learned": 0.9, "untrained": 0.5}), n_boot=300)
    )
    assert "learning matters" in better and "untrained-field augmentation is not distinguishable" in better


def test_training_pool_leaves_out_the_validation_images(mnist):
    params = ia.parameters("smoke", {"validation_per_class": 30})
    pool = ia.training_pool(mnist, params)
    assert len(pool.train_y) == len(mnist.train_y) - 300 and torch.equal(pool.test_x, mnist.test_x)
    valid = images.hold_out(mnist, 30, seed=1).test_x.flatten(1)
    kept = pool.train_x.flatten(1)
    assert not (torch.cdist(valid[:50], kept).min(dim=1).values == 0).any()  # none of them in the pool
    assert ia.training_pool(mnist, ia.parameters("smoke", {"validation_per_class": None})) is mnist


def test_available_seeds_keeps_the_seeds_whose_field_exists(tmp_path):
    from symflow.image import image_augmentation

    (tmp_path / "learned_field_seed0.pt").write_bytes(b"x")
    (tmp_path / "learned_field_seed2.pt").write_bytes(b"x")
    said = []
    assert image_augmentation.available_seeds(tmp_path, [0, 1, 2], log=said.append) == [0, 2]
    assert len(said) == 1 and "seed 1" in said[0]
    assert image_augmentation.available_seeds(tmp_path / "none", [0, 1], log=said.append) == [0, 1]
