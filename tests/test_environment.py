"""The project's own files agree with each other."""

import re
from pathlib import Path

import pytest

from symflow import profiles

REPO = Path(__file__).resolve().parents[1]


def test_environment_yml_installs_requirements_txt():
    env = (REPO / "environment.yml").read_text()
    assert re.search(r"^\s*-\s*-r requirements.txt\s*$", env, re.M), "environment.yml must pip-install requirements.txt"
    # nothing pinned twice: conda dependencies are only python and pip
    deps = re.findall(r"^  - (\S+)", env.split("dependencies:")[1], re.M)
    assert all(d.split("=")[0] in {"python", "pip"} for d in deps if d != "pip:"), deps


def test_requirements_are_exact_pins_with_cpu_torch():
    lines = [
        l.strip() for l in (REPO / "requirements.txt").read_text().splitlines() if l.strip() and not l.startswith("#")
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][^\s]*", l) for l in lines), lines
    assert "torch==2.13.0" in lines


def test_installed_versions_match_pins():
    from importlib import metadata

    for line in (REPO / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            assert metadata.version(name.split("[")[0]).split("+")[0] == version, name


def test_ci_runs_make_test():
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_unknown_profile_lists_valid_ones():
    with pytest.raises(ValueError, match="smoke, quick, paper"):
        profiles.get("fast", "intro")
    with pytest.raises(ValueError, match="experiment"):
        profiles.get("quick", "no-such-experiment")


def test_every_experiment_defines_every_profile():
    for experiment in profiles.experiments():
        for profile in profiles.PROFILES:
            assert isinstance(profiles.get(profile, experiment), dict)


def test_licence_and_citation_file_name_the_paper():
    """The compendium is reusable (a licence) and citable (CITATION.cff citing the paper)."""
    import yaml

    from symflow import io

    assert "Permission is hereby granted" in (io.REPO / "LICENSE").read_text()
    cff = yaml.safe_load((io.REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "MIT"
    paper = cff["references"][0]
    assert paper["title"] == "Learning Infinitesimal Generators of Continuous Symmetries from Data"
    assert [a["family-names"] for a in paper["authors"]] == ["Ko", "Kim", "Lee"] and paper["year"] == 2024
