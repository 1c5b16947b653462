"""The PDE symmetry learner on an exact Burgers solution: validity separates symmetries from
controls, training runs, checkpoints, resumes, and stops cleanly on a NaN loss."""

import dataclasses

import pandas as pd
import pytest
import torch

from symflow import generators, metrics
from symflow.pde import pde_graphs, pde_learning, pdes

BURGERS = pdes.get("Burgers")


def burgers_graphs(n: int = 2, nt: int = 12, nx: int = 64) -> torch.Tensor:
    """Exact periodic Burgers solutions by Cole-Hopf: psi = 1 + e exp(-nu k^2 t) cos(k x + p),
    u = -2 nu psi_x / psi, as normalised graphs (n, nt, nx, 3) over the kept window's first rows."""
    t, x = BURGERS.kept_times()[:nt], BURGERS.grid(nx)
    T, X = torch.meshgrid(t, x, indexing="ij")
    out = []
    for k, phase in [(1, 0.0), (2, 1.0), (1, 2.0)][:n]:
        decay = 0.8 * torch.exp(-BURGERS.nu * k * k * T)
        u = 2 * BURGERS.nu * k * decay * torch.sin(k * X + phase) / (1 + decay * torch.cos(k * X + phase))
        out.append(torch.stack(BURGERS.normalise(X, T, u), dim=-1))
    return torch.stack(out)


def test_validity_separates_exact_symmetries_from_controls():
    graphs = burgers_graphs(1)
    inner = generators.InnerProduct(graphs.reshape(-1, 3))
    known = generators.normalise(BURGERS.known_fields(kinds=pdes.KINDS), inner)
    kinds = [s.kind for s in BURGERS.symmetries]
    v = pde_graphs.validity(known, BURGERS, graphs, 0.1)
    exact = v[[k == "exact" for k in kinds]]
    controls = v[[k == "control" for k in kinds]]
    assert exact.max() < -9.0 and controls.min() > exact.max() + 2, (v, kinds)
    # unmoved data is a solution up to the floor log(1e-4)
    assert pde_graphs.validity(known, BURGERS, graphs, 0.0).max() < -9.0


def test_equation_and_patch_errors():
    with pytest.raises(ValueError, match="equation must be one of"):
        pde_graphs.validity(None, "Heat", burgers_graphs(1), 0.1)
    with pytest.raises(ValueError, match="equation must be one of"):
        pde_graphs.as_equation(object())
    with pytest.raises(ValueError, match="rows must be"):
        pde_learning.sample_patches(burgers_graphs(1), 20, 1, torch.Generator())


PARAMS = {
    "n_generators": 3,
    "width": 8,
    "head_width": 4,
    "rows": 8,
    "batch": 1,
    "iterations": 4,
    "lr": 1e-3,
    "decay_at": 0.5,
    "clip": None,
    "sigma": 0.4,
    "steps": 1,
    "times": None,
    "n_inner": 128,
    "tau": 3.0,
    "weights": {"sym": 1.0, "ortho": 3.0, "lip": 1.0, "sob": 1.0},
    "ortho_mode": "span",
    "sym_warmup": 0,
    "inner": "data",
    "adjoint": False,
    "affine": {"centre": [0.0, 0.5, 0.0], "scale": [0.0, 3.464, 0.0]},
    "sobolev_from": 0.5,
    "method": "curvilinear",
    "row_order": 6,
    "dtype": "float32",
    "checkpoint_every": 1,
    "log_every": 2,
}


def test_train_saves_resumes_and_tables(tmp_path):
    ckpt = tmp_path / "checkpoint.pt"
    field, history = pde_learning.train("Burgers", burgers_graphs(), PARAMS, ckpt, seed=3, log=lambda s: None)
    assert list(history["iteration"]) == [0, 1, 2, 3] and ckpt.exists()
    assert history["sobolev"].iloc[:2].eq(0).all() and history["sobolev"].iloc[2:].ne(0).all()
    assert history["lr"].tolist() == [1e-3, 1e-3, 1e-4, 1e-4]
    # A rerun finds the finished checkpoint and trains nothing more: same weights, same history.
    logs = []
    again, history2 = pde_learning.train("Burgers", burgers_graphs(), PARAMS, ckpt, seed=3, log=logs.append)
    assert "resumed" in logs[0] and len(history2) == 4
    for a, b in zip(field.parameters(), again.parameters()):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="another run"):
        pde_learning.train("Burgers", burgers_graphs(), {**PARAMS, "lr": 1.0}, ckpt, seed=3)
    # The saved field loads back as a module (n, 3) -> (n, 3, N).
    generators.save(field, tmp_path / "generators.pt", equation="Burgers")
    loaded = generators.load(tmp_path / "generators.pt")
    assert loaded(torch.rand(5, 3)).shape == (5, 3, 3)
    inner = pde_learning.evaluation_inner(burgers_graphs(), 256)
    rec = pde_learning.recovery_table("Burgers", field, pde_learning.new_field(PARAMS, 3), inner, 3)
    assert len(rec) == len(BURGERS.symmetries) and rec.fraction_in_span.between(0, 1 + 1e-9).all()
    val = pde_learning.validity_table("Burgers", field, burgers_graphs(1), inner, [0.1], 3, steps=1)
    assert set(val.field) >= {"V1", "V2", "V3", "shear t d_x"}
    acc = pde_learning.acceptance(rec, val, pde_learning.independence(field, inner))
    assert len(acc) == 1 + 3 + 3 and acc.passed.dtype == bool  # no angle row without `principal`


def test_independence_flags_collapsed_generators_and_fails_acceptance():
    """x-translation, t-translation and the boost are independent (eigenvalue near 1 for nearly
    orthogonal fields); replacing the boost by a mix of the translations plus 1e-4 of the boost
    still spans 3 dimensions numerically and holds every symmetry, but has eigenvalue ~1e-4
    (the square of its share outside the translations)."""
    graphs = burgers_graphs(2)
    inner = pde_learning.evaluation_inner(graphs, 512)
    known = BURGERS.known_fields()  # x-translation, t-translation, boost
    exact = generators.FunctionField(lambda z: known(z), 3, 3)
    mixed = generators.FunctionField(
        lambda z: torch.cat(
            [known(z)[..., :2], (known(z)[..., :1] + known(z)[..., 1:2] + 1e-4 * known(z)[..., 2:])], -1
        ),
        3,
        3,
    )
    good, bad = pde_learning.independence(exact, inner), pde_learning.independence(mixed, inner)
    G = inner.gram(known(inner.points), known(inner.points))
    unit = G / torch.outer(G.diagonal().sqrt(), G.diagonal().sqrt())
    assert abs(good - float(torch.linalg.eigvalsh(unit)[0])) < 1e-12 and good > 0.5
    assert bad < 1e-3
    rec = pde_learning.recovery_table("Burgers", mixed, exact, inner, 0)
    assert rec[rec.kind == "exact"].fraction_in_span.min() > 0.999  # the span check alone is fooled
    val = pde_learning.validity_table("Burgers", exact, graphs[:1], inner, [0.1], 0, steps=1)
    acc = pde_learning.acceptance(rec, val, bad, s=0.1)
    assert not acc.set_index("check").loc["independence: V1..V3", "passed"]


def test_validity_weight_warms_up_linearly():
    weights = PARAMS["weights"]
    assert pde_learning.warmed_up(weights, 5, 0) == weights
    assert [pde_learning.warmed_up(weights, it, 4)["sym"] for it in (0, 2, 4, 9)] == [0.0, 0.5, 1.0, 1.0]
    assert pde_learning.warmed_up(weights, 2, 4)["ortho"] == weights["ortho"]
    # In training, iteration 0's loss is then the regularisers alone.
    _, history = pde_learning.train(
        "Burgers", burgers_graphs(), {**PARAMS, "iterations": 1, "sym_warmup": 10}, None, seed=0, log=lambda s: None
    )
    row = history.iloc[0]
    assert row.loss == pytest.approx(3.0 * row.ortho + row.lipschitz, rel=1e-5)


def test_gradient_clipping_is_applied_before_the_adam_step():
    """Adam's first step is lr * g / (|g| + 1e-8) per parameter: about lr where the gradient is not
    tiny. Clipping the gradient's norm to 1e-12 first leaves only ~1e-4 lr; the history keeps the
    norm before clipping, which is the same in both runs."""
    one = {**PARAMS, "iterations": 1}
    start = pde_learning.new_field(one, 2)
    moved, norms = {}, {}
    for clip in (None, 1e-12):
        field, history = pde_learning.train(
            "Burgers", burgers_graphs(), {**one, "clip": clip}, None, seed=2, log=lambda s: None
        )
        moved[clip] = max(float((a - b).abs().max().detach()) for a, b in zip(field.parameters(), start.parameters()))
        norms[clip] = float(history.grad_norm[0])
    assert moved[None] > 0.5 * one["lr"] and moved[1e-12] < 1e-3 * one["lr"], moved
    assert norms[None] == pytest.approx(norms[1e-12]) and norms[None] > 1e-6


def test_resuming_gives_the_same_run_as_not_stopping(tmp_path):
    short = {**PARAMS, "iterations": 4}
    full, _ = pde_learning.train("Burgers", burgers_graphs(), short, None, seed=1, log=lambda s: None)
    ckpt = tmp_path / "c.pt"
    with pytest.raises(pde_learning.NonFiniteLoss):
        _train_with_nan_at(2, short, ckpt)
    resumed, history = pde_learning.train("Burgers", burgers_graphs(), short, ckpt, seed=1, log=lambda s: None)
    assert len(history) == 4
    for a, b in zip(full.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b)


def _train_with_nan_at(iteration, params, ckpt):
    """Train with the loss forced to NaN at `iteration` (monkeypatching total_loss)."""
    original, calls = pde_learning.total_loss, []

    def nan_loss(terms, weights):
        calls.append(1)
        loss = original(terms, weights)
        return loss * float("nan") if len(calls) == iteration + 1 else loss

    pde_learning.total_loss = nan_loss
    try:
        pde_learning.train("Burgers", burgers_graphs(), params, ckpt, seed=1, log=lambda s: None)
    finally:
        pde_learning.total_loss = original


def test_nan_loss_stops_with_iteration_and_terms_and_keeps_checkpoint(tmp_path):
    ckpt = tmp_path / "c.pt"
    with pytest.raises(pde_learning.NonFiniteLoss, match=r"iteration 2; terms .*ortho.*last good checkpoint"):
        _train_with_nan_at(2, PARAMS, ckpt)
    assert torch.load(ckpt, weights_only=False)["iteration"] == 2


def test_transform_graph_moves_patches_along_each_generator():
    """Constant fields translate every graph point by s_a times the field; shapes keep the grid."""
    shifts = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    field = generators.FunctionField(lambda z: shifts.T.expand(z.shape[0], 3, 2), 2, 3)
    graph = burgers_graphs(2, nt=8, nx=16).float()
    s = torch.tensor([0.1, -0.3])
    moved = pde_graphs.transform_graph(field, graph, s, steps=2)
    assert moved.shape == (2, *graph.shape)
    torch.testing.assert_close(moved[0], graph + 0.1 * shifts[0])
    torch.testing.assert_close(moved[1], graph - 0.3 * shifts[1])
    path = pde_graphs.transform_graph(field, graph, s, steps=2, times=[0.5, 1.0])
    torch.testing.assert_close(path[-1], moved)
    with pytest.raises(ValueError, match="s must be"):
        pde_graphs.transform_graph(field, graph, torch.zeros(3))


def test_dtype_is_checked_and_used(tmp_path):
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        pde_learning.train("Burgers", burgers_graphs(), {**PARAMS, "dtype": "float16"}, None, seed=0)
    field, _ = pde_learning.train(
        "Burgers", burgers_graphs(), {**PARAMS, "dtype": "float64", "iterations": 1}, None, seed=0, log=lambda s: None
    )
    assert next(field.parameters()).dtype == torch.float64


def test_bad_inner_names_the_accepted_values():
    with pytest.raises(ValueError, match="inner must be one of"):
        pde_learning.train("Burgers", burgers_graphs(), {**PARAMS, "inner": "patch"}, None, log=lambda s: None)


def test_data_inner_product_is_the_same_for_every_batch():
    """With a fixed inner product the orthonormality term does not depend on the batch; with the
    batch's own points it does."""
    graphs, field = burgers_graphs(3, nt=24).float(), pde_learning.new_field(PARAMS, 0)
    fixed = pde_learning.evaluation_inner(graphs, 256)
    fixed = generators.InnerProduct(fixed.points.float())
    s = torch.full((3,), 0.1)
    ortho = {}
    for inner in (fixed, None):
        ortho[inner is None] = [
            pde_learning.loss_terms(
                field, BURGERS, graphs[k : k + 1, :8], s, PARAMS, False, torch.Generator().manual_seed(0), inner
            )["ortho"].item()
            for k in range(3)
        ]
    assert max(ortho[False]) - min(ortho[False]) < 1e-6
    assert max(ortho[True]) - min(ortho[True]) > 1e-4


def test_centred_shear_leans_on_d_x_under_a_short_patch_inner_product():
    """The centred shear (t - 1/2) d_x is orthogonal to d_x over the whole kept window but not
    over 8 rows near its start, where its cosine with d_x is about -1: the reason for inner="data"."""
    graphs = burgers_graphs(2, nt=140, nx=32)

    def cos_with_dx(points):
        inner = generators.InnerProduct(points.reshape(-1, 3).double())
        z = inner.points
        V = torch.stack(
            [
                torch.stack([z[:, 1] - 0.5, 0 * z[:, 1], 0 * z[:, 1]], -1),
                torch.stack([1 + 0 * z[:, 1], 0 * z[:, 1], 0 * z[:, 1]], -1),
            ],
            -1,
        )
        return float(metrics.cosine_matrix(V[..., :1], V[..., 1:], inner))

    assert abs(cos_with_dx(graphs)) < 0.02
    assert cos_with_dx(graphs[:, :8]) < -0.99


def test_adjoint_back_propagation_gives_the_direct_gradient():
    """The training loss's gradient in the field's parameters (validity read at two times of the
    flow, and the regularisers, which share the unit norms with it) is the same by the adjoint
    method as through the RK4 steps (float64, up to the adjoint's own RK4)."""
    graphs = burgers_graphs(1, nt=10, nx=32)
    params = {**PARAMS, "steps": 4, "times": [0.5, 1.0], "dtype": "float64"}
    field = pde_learning.new_field(params, 0).double()
    with torch.no_grad():
        field.A.normal_(0, 0.3)
    s = torch.tensor([0.2, -0.3, 0.1], dtype=torch.float64)
    grads = {}
    for adjoint in (False, True):
        terms = pde_learning.loss_terms(
            field, BURGERS, graphs, s, {**params, "adjoint": adjoint}, False, torch.Generator().manual_seed(0)
        )
        loss = pde_learning.total_loss(terms, params["weights"])
        grads[adjoint] = torch.autograd.grad(loss, list(field.parameters()))
    for direct, adjoint in zip(grads[False], grads[True]):
        torch.testing.assert_close(adjoint, direct, rtol=1e-4, atol=1e-8)
    assert max(float(g.abs().max()) for g in grads[False]) > 1e-3


def test_callback_sees_the_run_and_can_stop_it(tmp_path):
    params = {**PARAMS, "iterations": 6}
    seen = []

    def callback(iteration, field):
        seen.append((iteration, [p.detach().clone() for p in field.parameters()]))
        return iteration == 4

    ckpt = tmp_path / "c.pt"
    field, history = pde_learning.train(
        "Burgers", burgers_graphs(), params, ckpt, seed=1, log=lambda s: None, callback=callback, callback_every=2
    )
    assert [it for it, _ in seen] == [2, 4] and len(history) == 4
    assert torch.load(ckpt, weights_only=False)["iteration"] == 4
    for a, b in zip(seen[-1][1], field.parameters()):  # the callback saw the field after iteration 4
        torch.testing.assert_close(a, b)
    at4 = []  # the same run, not stopped: identical up to 4
    pde_learning.train(
        "Burgers",
        burgers_graphs(),
        params,
        None,
        seed=1,
        log=lambda s: None,
        callback_every=4,
        callback=lambda it, f: at4.extend(p.detach().clone() for p in f.parameters()),
    )
    for a, b in zip(at4, field.parameters()):
        torch.testing.assert_close(a, b)


def test_judge_passes_the_exact_symmetries_and_fails_an_untrained_field():
    graphs = burgers_graphs(2)
    inner = generators.InnerProduct(graphs.reshape(-1, 3).double())
    exact = BURGERS.known_fields()  # the registry's exact symmetries as "learned"
    untrained = pde_learning.new_field(PARAMS, 1)
    recovery, validity, checks = pde_learning.judge(
        BURGERS, exact, untrained, graphs.double(), inner, 0, [0.02], steps=2
    )
    assert set(validity.s) == {0.02, *pde_learning.S_CHECKS}
    assert list(checks.columns[:2]) == ["equation", "seed"] and (checks.equation == "Burgers").all()
    n_exact = int((recovery.kind == "exact").sum())
    assert pde_learning.n_exact(BURGERS) == n_exact == 3
    assert len(checks) == 1 + n_exact + 1 + 3
    angle = checks[checks.check.str.startswith("angle")]
    assert angle.passed.all() and float(angle.value.iloc[0]) < 1e-3
    learned_rows = recovery[recovery.kind == "learned"]  # V1..V3 against the symmetries' span
    assert list(learned_rows.field) == ["V1", "V2", "V3"] and (learned_rows.angle_deg < 1e-4).all()
    assert (recovery[recovery.kind == "exact"].angle_deg < 1e-4).all()
    assert (learned_rows.angle_untrained_deg > 1).all()
    span = checks[checks.check.str.startswith("span")]
    assert span.passed.all() and (span.value > 1 - 1e-9).all()
    assert checks[checks.check.str.startswith("validity")].passed.all()
    # every check is attainable on these exact data: the exact symmetries pass it, the controls fail it
    assert checks.exact_passes.all() and checks.controls_fail.all() and checks.decisive.all()
    assert pde_learning.verdict(checks)[0] == "reproduced"
    _, _, bad = pde_learning.judge(BURGERS, untrained, untrained, graphs.double(), inner, 0, [0.02], steps=2)
    assert not bad.passed.all() and not bad[bad.check.str.startswith("angle")].passed.any()
    assert pde_learning.verdict(bad)[0] in ("not reproduced", "undecidable on these data")


def test_judge_counts_as_many_fields_as_the_equation_has_symmetries():
    """cKdV has two exact symmetries and one approximate one (d_t): V1..V3 are judged against the
    three. A field made of the registered three passes, and the number of judged fields follows the
    registry, not a fixed 3."""
    ckdv = pdes.get("cKdV")
    assert pde_learning.n_exact(ckdv) == 3
    assert [s.kind for s in ckdv.symmetries_of(pde_learning.JUDGED_KINDS)] == ["exact", "exact", "approximate"]
    one = dataclasses.replace(BURGERS, name="Burgers1", symmetries=BURGERS.symmetries_of(("exact", "control"))[:1])
    assert pde_learning.n_exact(one) == 1
    with pytest.raises(ValueError, match="nothing to judge"):
        pde_learning.n_exact(dataclasses.replace(BURGERS, symmetries=BURGERS.symmetries_of(("control",))))


def test_check_time_is_the_first_flow_time_at_which_the_data_separate():
    def table(exact_at, control_at):
        return pd.DataFrame(
            [{"kind": "exact", "s": s, "validity": v} for s, v in exact_at.items()]
            + [{"kind": "control", "s": s, "validity": v} for s, v in control_at.items()]
            + [{"kind": "learned", "s": 0.1, "validity": 99.0}]  # learned fields do not choose it
        )

    separated = table({0.1: -9.2, 0.2: -9.2, 0.4: -9.2}, {0.1: -7.6, 0.2: -6.6, 0.4: -5.6})  # cKdV-like
    assert pde_learning.check_time(separated) == 0.2
    assert pde_learning.check_time(table({0.1: -9.0, 0.4: -9.0}, {0.1: -4.6, 0.4: -3.2})) == 0.1
    assert pde_learning.check_time(table({0.1: -6.0, 0.4: -6.0}, {0.1: -5.0, 0.4: -4.5})) == 0.4  # never


def test_a_check_the_exact_symmetries_cannot_pass_makes_the_verdict_undecidable():
    rows = [
        {"check": "span: d_x", "passed": True, "exact_passes": True, "controls_fail": True, "decisive": True},
        {
            "check": "validity: V1 at s=0.4",
            "passed": False,
            "exact_passes": False,
            "controls_fail": True,
            "decisive": False,
        },
    ]
    verdict, why = pde_learning.verdict(pd.DataFrame(rows))
    assert verdict == "undecidable on these data" and "validity: V1" in why and "exact symmetries fail" in why
    rows[1].update(exact_passes=True, decisive=True)
    assert pde_learning.verdict(pd.DataFrame(rows))[0] == "not reproduced"
    rows[1].update(passed=True)
    assert pde_learning.verdict(pd.DataFrame(rows)) == ("reproduced", "2/2 decisive checks pass")
    rows[0].update(controls_fail=False, decisive=False)
    assert "untrained field passes" in pde_learning.verdict(pd.DataFrame(rows))[1]


def test_data_that_cannot_separate_symmetries_from_controls_are_warned_about():
    rows = [("exact", -9.0), ("control", -4.0), ("learned", -8.0)]
    separated = pd.DataFrame([{"equation": "KdV", "kind": k, "s": 0.1, "validity": v} for k, v in rows])
    assert not pde_learning.warn_if_data_cannot_separate(separated, s=0.1)
    close = separated.assign(validity=[-6.1, -4.5, -6.0])  # nKdV at the quick step: 1.6 apart
    with pytest.warns(UserWarning, match="cannot separate symmetries"):
        assert pde_learning.warn_if_data_cannot_separate(close, s=0.1)


def test_a_run_with_a_stop_rule_ends_when_its_validation_score_stalls_and_keeps_snapshots():
    # tol 100: no measurement ever improves on the first, so the rate drops at the second and the
    # run stops at the third measurement, well before the 20-iteration cap
    stop = {"every": 2, "patience": 1, "tol": 100.0, "min_iterations": 0, "n_patches": 1, "rows": 8, "first_row": 0}
    params = {**PARAMS, "iterations": 20, "stop": stop}
    snapshots: list = []
    _, history = pde_learning.train(
        "Burgers",
        burgers_graphs(),
        params,
        None,
        seed=0,
        log=None,
        valid_graphs=burgers_graphs(),
        snapshots=snapshots,
        snapshot_every=4,
    )
    assert len(history) == 6
    assert history.valid_score.notna().sum() == 3
    assert history.lr.iloc[0] == PARAMS["lr"] and history.lr.iloc[-1] == pytest.approx(PARAMS["lr"] / 10)
    assert [it for it, _ in snapshots] == [4, 6]  # every 4 iterations, and the last
    with pytest.raises(ValueError, match="needs valid_graphs"):
        pde_learning.train("Burgers", burgers_graphs(), params, None, seed=0, log=None)


def test_time_to_checks_is_the_training_time_until_the_first_passing_snapshot(monkeypatch):
    """The snapshots are judged in order and the first that passes every check sets the time: the
    sum of the history's seconds up to its iteration; a run none of whose snapshots pass gets None."""
    params = {**PARAMS, "n_generators": 3}
    field = pde_learning.new_field(params, 0)
    snapshots = [(it, {k: v.clone() for k, v in field.state_dict().items()}) for it in (2, 4, 6)]
    history = pd.DataFrame({"seconds": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    graphs = burgers_graphs()
    inner = generators.InnerProduct(graphs.reshape(-1, 3).to(torch.float64))
    evaluate = {"s_check": [0.1], "steps": 1}
    known = pde_learning.validity_table("Burgers", field, graphs, inner, [0.1], 0, steps=1)
    judged = []

    def fake_checks(self, candidate, values=None):
        judged.append(len(judged))
        return None, pd.DataFrame({"passed": [len(judged) >= passing_from]})

    monkeypatch.setattr(pde_learning.Referee, "checks", fake_checks)
    passing_from = 2  # the second snapshot (iteration 4) is the first to pass
    out = pde_learning.time_to_checks("Burgers", params, 0, history, snapshots, evaluate, graphs, inner, known)
    assert out == {"iterations_to_checks": 4, "time_to_checks_s": 1.0 + 2.0 + 3.0 + 4.0, "snapshots_judged": 2}
    judged.clear()
    passing_from = 99
    out = pde_learning.time_to_checks("Burgers", params, 0, history, snapshots, evaluate, graphs, inner, known)
    assert out == {"iterations_to_checks": None, "time_to_checks_s": None, "snapshots_judged": 3}
