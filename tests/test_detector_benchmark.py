"""Notebook 07's library (symflow.pde.detector_benchmark): directed span angles, the periodic part of a
detection, the rows of every detector and the statements generated from them."""

import math

import pandas as pd
import pytest
import torch

from symflow import generators
from symflow.pde import detector_benchmark as bench
from symflow.pde import detectors, pde_learning, pdes
from test_detectors import _data


def _inner(eq, u, times, n=1024):
    """Graphs (B, T, nx, 3) of exact data in normalised coordinates and an inner product of n of their points."""
    B, T, nx = u.shape
    x = eq.grid(nx)[None, None, :].expand(B, T, nx)
    t = times[None, :, None].expand(B, T, nx)
    graphs = torch.stack(eq.normalise(x, t, u), dim=-1)
    return graphs, pde_learning.evaluation_inner(graphs, n)


def test_span_angles_are_directed_and_basis_free():
    eq, u, times = _data("Burgers")
    _, inner = _inner(eq, u, times)
    K = bench.reference(eq, inner)  # d_x, d_t, boost
    assert K.shape[-1] == 3
    mixed = K @ torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [1.0, 0.0, 1.0]], dtype=torch.float64)
    same = bench.span_angles(mixed, K, inner)
    assert max(same.values()) < 1e-5
    part = bench.span_angles(K[..., :2], K, inner)  # a 2-dimensional part: inside, but a symmetry missed
    assert part["span_to_known"] < 1e-5 and part["known_to_span"] == 90.0 == part["angle"]
    local = bench.reference(eq, inner, bench.EQUATION_KINDS)  # + scaling, projective
    more = bench.span_angles(local, K, inner)
    assert more["known_to_span"] < 1e-5 and more["span_to_known"] == 90.0
    empty = bench.span_angles(K[..., :0], K, inner)
    assert empty == {"span_to_known": 0.0, "known_to_span": 90.0, "angle": 90.0}


def test_in_library():
    assert all(bench.in_library(s) for s in pdes.get("Burgers").symmetries)
    outside = {s.name for s in pdes.get("cKdV").symmetries if not bench.in_library(s)}
    assert outside == {"cylindrical boost 2 sqrt(t+1) d_x + d_u / sqrt(t+1)"}
    assert not bench.in_library(pdes.Symmetry("cubic", pdes.x**3, 0, 0, "exact"))


def test_periodic_part_of_burgers_is_the_data_sets_symmetries():
    """Burgers' 5 detected fields (the local criterion sees the scaling and the projective field) hold
    exactly the 3 data-set symmetries without explicit x; KdV's 3 are left as they are."""
    eq, u, times = _data("Burgers")
    _, inner = _inner(eq, u, times)
    det = detectors.detect(eq, u, times)
    assert det.count == 5
    periodic = bench.periodic_part(det, bench.physical_points(eq, inner))
    assert periodic.count == 3 and periodic.coefficients.shape == (3, 3, 10)
    assert all(pdes.x not in sympy_free(f) for f in periodic.fields)
    values = bench.detected_values(periodic, eq, inner)
    assert bench.span_angles(values, bench.reference(eq, inner), inner)["angle"] < 1e-3
    kdv_eq, kdv_u, kdv_times = _data("KdV")
    _, kdv_inner = _inner(kdv_eq, kdv_u, kdv_times)
    kdv = detectors.detect(kdv_eq, kdv_u, kdv_times, count=3)  # d_x, d_t and the boost: no x anywhere
    same = bench.periodic_part(kdv, bench.physical_points(kdv_eq, kdv_inner))
    assert same.count == 3 and torch.allclose(same.coefficients, kdv.coefficients, atol=1e-12)


def sympy_free(field):
    return set().union(*(getattr(e, "free_symbols", set()) for e in field))


def test_detector_rows_count_and_angles():
    eq, u, times = _data("Burgers")
    _, inner = _inner(eq, u, times)
    rows = bench.detector_rows(eq, u, times, inner, ["known"], [0.0, 1e-2], [2], [0], {"n_rows": 16})
    table = bench.table(rows)
    assert list(table.columns[:8]) == bench.COLUMNS
    clean, noisy = table.iloc[0], table.iloc[1]
    assert clean.detector == "lienlsd-known" and clean.n_train == 2 and clean.noise == 0
    # 5 = the data set's 3 + the 2 fields the periodic domain breaks: 90 degrees to the data set's span,
    # every data-set symmetry inside it, and within round-off of the equation's 5 local symmetries
    assert clean["count"] == 5 and clean.count_periodic == 3 and clean.angle_deg == 90.0
    assert clean.angle_known_to_span_deg < 1e-3 and clean.angle_equation_deg < 1e-3
    assert clean.seconds > 0 and "d_t" not in clean.fields and clean.note
    # under noise the fields that need third derivatives are lost first: the data set's 3 remain
    assert noisy["count"] == 3 and noisy.angle_deg < 0.1


def _run_dir(tmp_path, eq_name, seed, learned, exact, controls, seconds):
    """A notebook-02-like run folder: an untrained field saved as the learned one, a validity table at
    s = 0.1 with the given values, a history with the given per-iteration seconds."""
    folder = tmp_path / f"{eq_name}_seed{seed}"
    folder.mkdir()
    torch.manual_seed(seed)
    field = generators.GeneratorField(3, len(learned), 16, 8, periodic=(0,), affine=None)
    generators.save(field, folder / "generators.pt", equation=eq_name, seed=seed)
    rows = [("learned", f"V{a + 1}", v) for a, v in enumerate(learned)]
    rows += [("exact", f"e{i}", v) for i, v in enumerate(exact)] + [
        ("control", f"c{i}", v) for i, v in enumerate(controls)
    ]
    pd.DataFrame(
        [
            {"equation": eq_name, "seed": seed, "field": f, "kind": k, "s": s, "validity": v}
            for k, f, v in rows
            for s in (0.02, 0.1)
        ]
    ).to_csv(folder / "validity.csv", index=False)
    pd.DataFrame({"iteration": range(len(seconds)), "seconds": seconds}).to_csv(folder / "history.csv", index=False)
    return folder


def test_learned_rows_count_by_validity_and_the_untrained_twin(tmp_path):
    eq, u, times = _data("Burgers")
    graphs, inner = _inner(eq, u, times, 512)
    run = _run_dir(tmp_path, "Burgers", 5, [-20.0, -20.0, -20.0, -5.0], [-20.0] * 3, [-19.0, -18.0], [1.0, 2.0])
    assert bench.learned_runs(tmp_path, ["Burgers", "KdV"]) == {"Burgers": [5]}
    evaluate, learn = {"steps": 2}, {"method": "curvilinear", "row_order": 6}
    learned, untrained = bench.learned_rows(eq, run, inner, graphs[:1, :7], 0.1, evaluate, learn, 64)
    assert learned["detector"] == "learned" and untrained["detector"] == "untrained"
    # midpoint -19.5: V1..V3 valid, V4 not; the bound min(-20 + 0.5, -19 - 2) = -21 admits none
    assert learned["count"] == 3 and learned["count_midpoint"] == 3 and learned["count_bound"] == 0
    assert learned["seconds"] == 3.0 and learned["n_train"] == 64 and learned["noise"] == 0.0
    # the saved field is an untrained one of the same seed, so the twin is the same field: same first-k angle;
    # it is judged on its own validity (far above -19.5 on these patches): count 0, empty span, 90 degrees
    assert untrained["n_train"] == 0 and untrained["count"] == 0 and untrained["angle_deg"] == 90.0
    assert math.isclose(untrained["angle_first_k_deg"], learned["angle_first_k_deg"], abs_tol=1e-9)
    assert learned["angle_deg"] == learned["angle_first_k_deg"]  # count 3 = the data set's 3
    assert "empty span" in untrained["note"] and len(untrained["validity"].split()) == 4
    with pytest.raises(ValueError, match="no rows at s=0.3"):
        bench.learned_rows(eq, run, inner, graphs[:1, :7], 0.3, evaluate, learn, 64)


def _row(detector, angle, count, seconds, noise=0.0, n_train=32, periodic=None, equation_angle=None, first_k=None):
    return {
        "equation": "Burgers",
        "detector": detector,
        "noise": noise,
        "n_train": n_train,
        "seed": 0,
        "angle_deg": angle,
        "count": count,
        "seconds": seconds,
        "angle_span_to_known_deg": angle,
        "angle_known_to_span_deg": min(angle, 1e-5) if count >= 3 else 90.0,
        "angle_equation_deg": angle if equation_angle is None else equation_angle,
        "angle_span_to_equation_deg": angle if equation_angle is None else equation_angle,
        "count_periodic": count if periodic is None else periodic,
        "angle_first_k_deg": first_k if first_k is not None else math.nan,
    }


def test_statements_say_who_wins_and_where_the_learned_method_loses():
    rows = [
        _row("learned", 0.06, 3, 250.0, n_train=512, first_k=0.06),
        _row("untrained", 90.0, 0, 0.001, n_train=0, first_k=3.4),
        _row("lienlsd-known", 90.0, 5, 0.1, periodic=3, equation_angle=1e-5),
        _row("lienlsd-known", 1e-5, 3, 0.1, n_train=2, periodic=3, equation_angle=90.0),
        _row("lienlsd-known", 2e-5, 3, 0.1, noise=0.01, equation_angle=90.0),
        _row("lienlsd-fitted", 0.001, 3, 0.2, noise=0.0, equation_angle=90.0),
        _row("lienlsd-fitted", 0.5, 3, 0.2, noise=0.01, equation_angle=90.0),
    ]
    text = bench.statements(bench.table(rows))["Burgers"]
    assert "the equation 5 local ones" in text
    assert "Best: lienlsd-fitted." in text  # 0.001 deg against the learned 0.06 (tie margin 0.05)
    assert "lienlsd-known 5 = 3 on the periodic domain + 2 with explicit x, fields of the equation's" in text
    assert "untrained 90 deg (count 0, its V1..V3: 3.37 deg)" not in text and "its V1..V3: 3.40 deg" in text
    assert "fastest lienlsd-known" in text and "untrained 0.00 s" not in text  # the control is not timed
    assert (
        "At noise 0.01 (32 trajectories): lienlsd-fitted 0.50 deg (count 3), lienlsd-known 2e-05 deg (count 3)" in text
    )
    assert "lienlsd-known from 2" in text
    assert "The learned method loses to lienlsd-fitted on angle (0.001 deg vs 0.06 deg)" in text
    assert "lienlsd-known on time (0.10 s vs 250 s)" in text
    assert "it beats untrained on angle (0.06 deg vs 90 deg); lienlsd-known on angle (0.06 deg vs 90 deg)" in text


def test_augmentation_figure_draws_each_arm_against_none_per_equation_and_refuses_an_empty_table():
    import matplotlib

    matplotlib.use("Agg")
    rows = [
        {"equation": eq, "n_train": 32, "metric": "cumulative", "comparison": f"{arm} - none",
         "ratio": r, "ratio_low": r - 0.1, "ratio_high": r + 0.1}
        for eq in ("KdV", "KS") for arm, r in (("known", 0.8), ("learned", 0.9), ("lienlsd-fitted", 1.0))
    ]  # fmt: skip
    rows.append({**rows[0], "comparison": "learned - known"})  # not drawn: not against none
    fig = bench.augmentation_figure(pd.DataFrame(rows))
    assert [ax.get_title() for ax in fig.axes] == ["KdV, 32 trajectories", "KS, 32 trajectories"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["known", "learned", "lienlsd-fitted"]
    with pytest.raises(ValueError, match="no rows of metric 'rollout'"):
        bench.augmentation_figure(pd.DataFrame(rows), metric="rollout")


def test_an_arm_is_reused_only_when_its_prepared_fields_are_an_earlier_arms():
    """`same_arm` on prepared fields (orthonormalised on a few trajectories, tabulated or not): the
    same fields prepared twice are one arm (difference 0); a perturbation of 1e-6 of one field,
    another count or other seeds are not."""
    from symflow.generators import FunctionField
    from symflow.pde import augmentation

    eq = pdes.get("KdV")
    u = torch.randn(2, 12, 16, generator=torch.Generator().manual_seed(0))
    known = eq.known_fields(("exact",))

    def tilted(eps):
        def fn(z):
            v = known(z).clone()
            v[:, 2, 0] += eps * torch.sin(2 * math.pi * z[:, 0])
            return v

        return FunctionField(fn, known.n_generators, 3)

    points = torch.rand(256, 3, generator=torch.Generator().manual_seed(1))
    for table in ((8, 6, 6), None):

        def prepare(f, table=table):
            return augmentation.prepare(f, u, 512, table, seed=0)

        first = {0: prepare(known), 1: prepare(known)}
        earlier = {"known": first}
        match, closest, diff = bench.same_arm({0: prepare(known), 1: prepare(known)}, earlier, points)
        assert (match, closest, diff) == ("known", "known", 0.0)
        match, closest, diff = bench.same_arm({0: prepare(tilted(1e-6)), 1: prepare(known)}, earlier, points)
        assert match is None and closest == "known" and bench.REUSE_RTOL < diff < 1e-2
        two = FunctionField(lambda z: known(z)[..., :2], 2, 3)
        assert bench.same_arm({0: prepare(two), 1: prepare(two)}, earlier, points) == (None, None, math.inf)
        assert bench.same_arm({0: prepare(known)}, earlier, points) == (None, None, math.inf)
