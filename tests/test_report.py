"""The results index links only to files that exist."""
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def links_in(markdown: str) -> list[str]:
    return [target for target in re.findall(r"\]\(([^)]+)\)", markdown) if "://" not in target]


def test_committed_results_index_links_exist():
    index = REPO / "results" / "README.md"
    if not index.exists():
        pytest.skip("results/README.md not generated yet")
    missing = [t for t in links_in(index.read_text()) if not (index.parent / t).exists()]
    assert not missing, f"results/README.md links to missing files: {missing}"


def test_seed_checks_summarise_every_seed(tmp_path):
    from symflow import report
    for seed, passed in ((0, [True, True]), (1, [True, False])):
        run = tmp_path / "02_pde_symmetries" / "quick" / f"KdV_seed{seed}"
        run.mkdir(parents=True)
        (run / "acceptance.csv").write_text("equation,seed,check,value,bound,passed\n" + "".join(
            f"KdV,{seed},{name},0.5,b,{ok}\n" for name, ok in zip(("span: d_x", "span: boost"), passed)))
    text = "\n".join(report._seed_checks(tmp_path, "quick"))
    assert "| KdV | 0 | 2/2 | none |" in text
    assert "| KdV | 1 | 1/2 | span: boost |" in text

