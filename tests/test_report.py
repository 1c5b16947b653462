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
