"""The three verdicts every claim of the compendium gets, and how a table of checks earns one.

    reproduced                  every check that can decide passes
    not reproduced              a check that can decide fails
    undecidable on these data   some check cannot decide: the known answer fails it, or a control
                                (a case known not to have the effect) passes it

A check "can decide" (is decisive) when the known answer passes it and the controls fail it on the
data at hand; only then does its outcome say something about the method (notebook 02's
`pde_learning.judge` records both for every acceptance check).

    from_checks(checks)   -> (verdict, reason) for a table with columns check, passed[, decisive,
                             exact_passes, controls_fail]
    control_passes(row)   -> whether an augmentation study's positive control (known - none)
                             passes: both intervals, difference and ratio, wholly on the side of
                             lower error
"""

from __future__ import annotations

import pandas as pd

VERDICTS = ("reproduced", "not reproduced", "undecidable on these data")


def from_checks(checks: pd.DataFrame) -> tuple[str, str]:
    """One of VERDICTS for the checks of one or more runs (columns check, passed, decisive), with
    its reason: "undecidable on these data" when any check is not decisive (the exact symmetries
    fail it, or the controls pass it), else "reproduced" when every check passes, else "not
    reproduced". Tables without a `decisive` column (written before it existed) are judged on
    `passed` alone."""
    decisive = checks["decisive"].astype(bool) if "decisive" in checks else pd.Series(True, index=checks.index)
    if not decisive.all():
        bad = checks[~decisive]
        why = []
        for r in bad.drop_duplicates("check").itertuples():
            parts = []
            if "exact_passes" in checks and not bool(r.exact_passes):
                parts.append("the exact symmetries fail it")
            if "controls_fail" in checks and not bool(r.controls_fail):
                parts.append("the untrained field passes it")
            why.append(f"{r.check} ({' and '.join(parts)})")
        return VERDICTS[2], "not decisive: " + "; ".join(why)
    passed = checks["passed"].astype(bool)
    if passed.all():
        return VERDICTS[0], f"{int(passed.sum())}/{len(passed)} decisive checks pass"
    failed = checks[~passed].check.drop_duplicates().tolist()
    return VERDICTS[1], f"{int(passed.sum())}/{len(passed)} decisive checks pass; failed: {'; '.join(failed)}"


def control_passes(row) -> bool:
    """The positive control of an augmentation study (known - none, one metric; a row of
    `solver_experiments.compare`, or anything with attributes difference_high and ratio_high)
    passes when the known symmetries lower the error beyond doubt: the whole interval of the
    difference known - none below 0 and the high end of the ratio known / none below 1. No fixed
    effect size. Notebook 03's closing lines and the report's FNO rows both judge by it."""
    return bool(row.difference_high < 0 and row.ratio_high < 1)
