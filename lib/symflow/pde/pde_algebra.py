"""What one learned PDE run is: its span against the known symmetries, its Lie algebra, its
symbolic readout and the readout's validity, in one row of notebook 06's summary table.

    row, V = run_summary(equation, field, untrained, inner, patches, n_span, s, steps, readout)
    row = symmetry_count(validity_at_s, field, inner)

The mathematics lives in `symflow.algebra` (angles, brackets, readout, exact constants) and
`pde_graphs.validity` (the flowed data's residual); this module only puts them together.
"""

from __future__ import annotations

import math

import pandas as pd
import torch

from .. import algebra, generators
from ..generators import Field, InnerProduct
from . import pde_graphs, pde_learning, pdes

# The known span of notebook 06: the exact symmetries and the approximate ones (cKdV's t-translation).
KNOWN = ("exact", "approximate")


def run_summary(
    equation,
    field: Field,
    untrained: Field,
    inner: InnerProduct,
    patches: torch.Tensor,
    n_span: int,
    s: float,
    steps: int,
    readout: dict,
) -> tuple[dict, Field]:
    """One learned run against its equation's known span (KNOWN kinds), with its untrained twin.

    field, untrained: the learned and untrained generator fields (any dtype; evaluated in float64
    at unit norms under `inner`); patches: the test patches of `pde_learning.evaluation_set`;
    n_span: how many leading generators form the learned span; s, steps: flow time and RK4 steps
    of the validity re-scores; readout: the settings of `algebra.pde_readout` among "tolerance_deg",
    "max_terms" and "digits" (others, such as the image readout's "threshold", are ignored; a
    missing one takes its default). The readout's library is `algebra.pde_library`, the same for
    every equation: nothing of the equation's known symmetries enters it.

    Returns (row, V): V the unit-norm learned field; row the columns of notebook 06's summary:
    the largest principal angle and the largest one-way angles in degrees (known in learned,
    learned in known; learned and untrained), the closure of the span (bracket parts outside
    it, relative to the largest bracket; the largest per pair), the readout (its fields joined
    by " ; ", its number of terms, its library fit, its largest principal angle to the learned
    span (how close a sparse readout gets) and to the known span),
    constants_learned_vs_readout_rel (the learned structure constants moved to the readout's unit
    basis against the readout's exact ones, relative to the largest exact one; NaN when the
    readout's brackets are not constant-coefficient combinations of its fields)
    and the mean validity at s of the learned V1..V_n_span and of the readout's unit fields.
    """
    eq = pdes.get(equation) if isinstance(equation, str) else equation
    k = n_span
    known = eq.known_fields(kinds=KNOWN)(inner.points)
    V = generators.normalise(pde_learning.double(field), inner)
    V0 = generators.normalise(pde_learning.double(untrained), inner)
    with torch.no_grad():
        learned, untrained_values = V(inner.points)[..., :k], V0(inner.points)[..., :k]
    angles, angles0 = algebra.span_angles(learned, known, inner), algebra.span_angles(untrained_values, known, inner)
    st, st0 = algebra.structure(V, inner, k), algebra.structure(V0, inner, k)
    ro = algebra.pde_readout(
        eq, learned, inner, **{key: readout[key] for key in ("tolerance_deg", "max_terms", "digits") if key in readout}
    )
    R = algebra.readout_field(eq, ro["fields"])
    with torch.no_grad():
        R_values = R(inner.points)
        v_learned = pde_graphs.validity(V, eq, patches, s, steps)[:k]
        v_readout = pde_graphs.validity(generators.normalise(R, inner), eq, patches, s, steps)
    row = {
        "max_principal_angle_deg": max(angles["principal"]),
        "max_principal_angle_untrained_deg": max(angles0["principal"]),
        "known_in_learned_max_deg": max(angles["W_in_V"]),
        "known_in_untrained_max_deg": max(angles0["W_in_V"]),
        "learned_in_known_max_deg": max(angles["V_in_W"]),
        "untrained_in_known_max_deg": max(angles0["V_in_W"]),
        "closure_max": float(st["closure_span"].max()),
        "closure_untrained_max": float(st0["closure_span"].max()),
        "closure_pair_max": float(st["closure"].max()),
        "readout": " ; ".join(algebra.format_field(f) for f in ro["fields"]),
        "readout_terms": sum(ro["kept"]),
        "library_fit": ro["library_fit"],
        "readout_vs_learned_max_angle_deg": ro["span_angle_deg"],
        "readout_vs_known_max_angle_deg": max(algebra.span_angles(R_values, known, inner)["principal"]),
        "constants_learned_vs_readout_rel": readout_constants_error(st["C"], learned, R_values, ro["fields"], inner),
        "validity_learned_mean": float(v_learned.mean()),
        "validity_readout_mean": float(v_readout.mean()),
    }
    return row, V


def readout_constants_error(
    C: torch.Tensor, learned: torch.Tensor, readout_values: torch.Tensor, readout_fields: list, inner: InnerProduct
) -> float:
    """max |C_learned - C_exact| / max |C_exact| in the readout's unit basis (NaN: no exact constants).

    C (k, k, k): the learned span's structure constants; learned, readout_values (n, d, k): the
    learned and the readout fields at the inner product's points; readout_fields: the readout's
    sympy component tuples, whose exact constants `algebra.exact_structure` computes.
    """
    exact = algebra.exact_structure(readout_fields)
    if exact is None:
        return math.nan
    norms = inner.norms(readout_values)
    M = algebra.basis_change(learned, readout_values / norms, inner)
    C_learned = algebra.change_basis(C, M)
    C_exact = algebra.unit_constants(torch.tensor(exact), norms)
    return float((C_learned - C_exact).abs().max() / C_exact.abs().max().clamp_min(1e-12))


def symmetry_count(validity: pd.DataFrame, field: Field, inner: InnerProduct, min_angle_deg: float = 10.0) -> dict:
    """How many of one run's learned generators are symmetries, in one row of notebook 06's count.

    validity: notebook 02's validity table at one flow time s (columns kind, validity; kinds
    "learned" (V1..VN in order), "exact", "control", others ignored but "approximate" counted);
    field: the run's learned field (evaluated in float64 at unit norms under `inner`).

    Returns generators (N), exact_symmetries, approximate, count_by_<rule> (`algebra.count_symmetries`:
    leading generators at or below the rule's threshold), independent_valid_by_<rule> (the dimension
    the valid generators span: `algebra.independent_fields` at `min_angle_deg`), the two thresholds
    (bound, midpoint), V1..VN (their validities) and closure_k1..closure_kN (`algebra.nested_closure`),
    for each rule of `algebra.RULES`. A table with no learned, exact or control row is a ValueError.

    Whether a rule can give the registered answer on these data, for each rule: exact_count_by_<rule>
    (how many of the registered exact symmetries have validity at or below the rule's threshold),
    control_count_by_<rule> (how many controls do) and attainable_by_<rule> (every exact symmetry
    passes and no control does). A count by a rule that is not attainable cannot be compared with
    the registered number: the check is undecidable on these data, not failed. The thresholds are
    built from these same exact and control validities, but neither half of attainability holds by
    construction where it matters: the bound (min(worst exact + margin_exact, best control -
    margin_control)) always fails every control (it lies margin_control below the best one), and
    passes every exact symmetry only when the worst lies at least margin_control below the best
    control; the midpoint passes every exact symmetry and fails every control only when the worst
    exact symmetry lies strictly below the best control (at a tie a control passes too).
    """
    by_kind = {kind: validity[validity.kind == kind].validity.tolist() for kind in ("learned", "exact", "control")}
    missing = [kind for kind, values in by_kind.items() if not values]
    if missing:
        raise ValueError(f"the validity table has no {', '.join(missing)} rows; it needs learned, exact and control")
    learned, exact, controls = by_kind["learned"], by_kind["exact"], by_kind["control"]
    V = generators.normalise(pde_learning.double(field), inner)
    with torch.no_grad():
        values = V(inner.points)
    thresholds = {rule: algebra.validity_threshold(exact, controls, rule) for rule in algebra.RULES}
    row = {
        "generators": len(learned),
        "exact_symmetries": len(exact),
        "approximate": int((validity.kind == "approximate").sum()),
        **{f"count_by_{rule}": algebra.count_symmetries(learned, exact, controls, rule=rule) for rule in algebra.RULES},
    }
    for rule, threshold in thresholds.items():
        valid = [a for a, v in enumerate(learned) if v <= threshold]
        row[f"independent_valid_by_{rule}"] = len(algebra.independent_fields(values, inner, valid, min_angle_deg))
    for rule, threshold in thresholds.items():
        row[f"exact_count_by_{rule}"] = sum(v <= threshold for v in exact)
        row[f"control_count_by_{rule}"] = sum(v <= threshold for v in controls)
        row[f"attainable_by_{rule}"] = (
            row[f"exact_count_by_{rule}"] == len(exact) and not row[f"control_count_by_{rule}"]
        )
    row.update(thresholds)
    row.update({f"V{a + 1}": v for a, v in enumerate(learned)})
    row.update({f"closure_k{j}": c for j, c in enumerate(algebra.nested_closure(V, inner), 1)})
    return row
