"""Notebook 06's summary of a learned PDE run (symflow.pde.pde_algebra) on known answers: the
registry's exact symmetries of Burgers given as the "learned" field."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from symflow import algebra, generators, profiles
from symflow.pde import pde_algebra, pde_learning, pdes
from test_pde_learning import PARAMS, burgers_graphs

BURGERS = pdes.get("Burgers")


def test_the_exact_symmetries_read_as_themselves_with_their_exact_algebra():
    graphs = burgers_graphs(2, nt=140, nx=32).double()  # the whole kept window: t spans the data's range
    inner = generators.InnerProduct(graphs.reshape(-1, 3))
    patches = graphs[:, :12]
    exact = BURGERS.known_fields(kinds=pde_algebra.KNOWN)  # d_x, d_t, t d_x + d_u
    untrained = pde_learning.new_field({**PARAMS, "n_generators": 4}, 1)
    readout = profiles.get("quick", "generator_algebra")["readout"]  # notebook 06's settings
    row, V = pde_algebra.run_summary(BURGERS, exact, untrained, inner, patches, 3, 0.02, 2, readout)
    assert V.n_generators == 3
    assert row["max_principal_angle_deg"] < 1e-4 and row["learned_in_known_max_deg"] < 1e-4
    assert row["max_principal_angle_untrained_deg"] > 1
    assert row["closure_max"] < 1e-8 and row["closure_untrained_max"] > 1e-3
    assert sorted(row["readout"].split(" ; ")) == ["d_t", "d_x", "t d_x + d_u"]
    assert row["readout_terms"] == 4 and row["readout_vs_known_max_angle_deg"] < 1e-4
    assert row["readout_vs_learned_max_angle_deg"] < 1e-4
    # [d_t, t d_x + d_u] = d_x, computed from the fields and exactly from the readout
    assert row["constants_learned_vs_readout_rel"] < 1e-6
    assert math.isclose(row["validity_learned_mean"], row["validity_readout_mean"], rel_tol=1e-6)


def test_a_readout_without_exact_constants_gives_nan():
    # d_x and x^2 d_x as readout fields: [d_x, x^2 d_x] = 2x d_x is not in their span
    x = pdes.x
    inner = generators.InnerProduct(torch.rand(50, 3, dtype=torch.float64))
    values = torch.rand(50, 3, 2, dtype=torch.float64)
    C = torch.zeros(2, 2, 2, dtype=torch.float64)
    assert math.isnan(pde_algebra.readout_constants_error(C, values, values, [(1, 0, 0), (x**2, 0, 0)], inner))


def test_symmetry_count_counts_valid_generators_and_the_directions_they_span():
    # V1..V5 = d_x, d_t, t d_x + d_u, u d_u (not valid), 2 d_x (valid, but no new direction)
    t, u = pdes.t, pdes.u
    field = algebra.readout_field(BURGERS, [(1, 0, 0), (0, 1, 0), (t, 0, 1), (0, 0, u), (2, 0, 0)])
    inner = generators.InnerProduct(burgers_graphs(2, nt=140, nx=32).double().reshape(-1, 3))
    validity = pd.DataFrame(
        {
            "kind": ["learned"] * 5 + ["exact"] * 3 + ["control"] * 3 + ["approximate"],
            "validity": [-9.0, -9.1, -8.95, -5.0, -8.9, -9.1, -8.8, -9.0, -4.0, -3.0, -3.5, -7.0],
        }
    )
    row = pde_algebra.symmetry_count(validity, field, inner)
    assert row["generators"] == 5 and row["exact_symmetries"] == 3 and row["approximate"] == 1
    assert row["bound"] == pytest.approx(-8.3) and row["midpoint"] == pytest.approx(-6.4)
    assert row["count_by_bound"] == row["count_by_midpoint"] == 3  # stops at V4
    # four valid fields (V1, V2, V3, V5) spanning three directions
    assert row["independent_valid_by_bound"] == row["independent_valid_by_midpoint"] == 3
    assert [row[f"V{a}"] for a in range(1, 6)] == [-9.0, -9.1, -8.95, -5.0, -8.9]
    # span{d_x, d_t, t d_x + d_u} is closed ([d_t, t d_x + d_u] = d_x); with u d_u it is not:
    # [t d_x + d_u, u d_u] = d_u lies partly outside (far above rounding)
    assert row["closure_k3"] < 1e-8 and row["closure_k4"] > 1e-3
    # the exact symmetries (worst -8.8) pass both rules and the controls (best -4.0) fail them
    for rule in algebra.RULES:
        assert row[f"exact_count_by_{rule}"] == 3 and row[f"control_count_by_{rule}"] == 0
        assert row[f"attainable_by_{rule}"] is True
    with pytest.raises(ValueError, match="no control rows"):
        pde_algebra.symmetry_count(validity[validity.kind != "control"], field, inner)


def _count(exact: list[float], controls: list[float]) -> dict:
    """symmetry_count of a hand-made validity table: learned d_x, d_t (both at -9.0) beside the
    given exact and control validities."""
    field = algebra.readout_field(BURGERS, [(1, 0, 0), (0, 1, 0)])
    inner = generators.InnerProduct(torch.rand(40, 3, dtype=torch.float64))
    validity = pd.DataFrame(
        {
            "kind": ["learned"] * 2 + ["exact"] * len(exact) + ["control"] * len(controls),
            "validity": [-9.0, -9.0, *exact, *controls],
        }
    )
    return pde_algebra.symmetry_count(validity, field, inner)


def test_a_rule_is_attainable_when_the_exact_symmetries_pass_it_and_the_controls_fail_it():
    # bound min(-8.9 + 0.5, -6.0 - 2) = -8.4, midpoint -7.45: both exact pass, no control
    row = _count([-9.2, -8.9], [-6.0, -5.0])
    assert row["bound"] == pytest.approx(-8.4) and row["midpoint"] == pytest.approx(-7.45)
    for rule in algebra.RULES:
        assert (row[f"exact_count_by_{rule}"], row[f"control_count_by_{rule}"]) == (2, 0)
        assert row[f"attainable_by_{rule}"] is True


def test_an_exact_symmetry_above_the_bound_makes_the_bound_unattainable():
    # the worst exact symmetry -7.0 is less than 2 below the best control -6.0: the bound
    # min(-6.5, -8.0) = -8.0 leaves it out (not attainable, though built from it); the midpoint
    # -6.5 keeps it and still fails the controls
    row = _count([-9.2, -7.0], [-6.0, -5.0])
    assert row["bound"] == pytest.approx(-8.0) and row["midpoint"] == pytest.approx(-6.5)
    assert (row["exact_count_by_bound"], row["control_count_by_bound"]) == (1, 0)
    assert row["attainable_by_bound"] is False
    assert (row["exact_count_by_midpoint"], row["control_count_by_midpoint"]) == (2, 0)
    assert row["attainable_by_midpoint"] is True


def test_a_control_that_passes_makes_the_rule_unattainable():
    # the worst exact symmetry ties the best control at -7.0: the midpoint -7.0 passes both exact
    # symmetries and one control; the bound -9.0 fails an exact symmetry (and every control)
    row = _count([-9.2, -7.0], [-7.0, -5.0])
    assert row["midpoint"] == pytest.approx(-7.0)
    assert (row["exact_count_by_midpoint"], row["control_count_by_midpoint"]) == (2, 1)
    assert row["attainable_by_midpoint"] is False
    assert (row["exact_count_by_bound"], row["control_count_by_bound"]) == (1, 0)
    assert row["attainable_by_bound"] is False
