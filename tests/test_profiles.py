"""The settings of symflow.profiles: the values every run reads (a snapshot), quick written in full and
smoke/paper as declared changes of it, and the typed merge that notebooks' overrides go through."""

import json
from pathlib import Path

import pytest

from symflow import profiles
from symflow.profiles import Replace, merge

# {experiment: {profile: get(profile, experiment)}} as json.dump(..., sort_keys=True) wrote it before
# the settings were rewritten as changes of quick. A setting meant to change is changed here too, on
# purpose: python -c "import json; from symflow import profiles as p; json.dump({e: {q: p.get(q, e)
# for q in p.PROFILES} for e in p.experiments()}, open('tests/profiles_snapshot.json', 'w'), indent=1,
# sort_keys=True)"
SNAPSHOT = Path(__file__).with_name("profiles_snapshot.json")


def as_json(value):
    return json.loads(json.dumps(value, sort_keys=True))


def test_every_setting_equals_the_snapshot():
    now = {e: {p: profiles.get(p, e) for p in profiles.PROFILES} for e in profiles.experiments()}
    before = json.loads(SNAPSHOT.read_text())
    assert set(now) == set(before)
    for experiment in before:
        for profile in profiles.PROFILES:
            assert as_json(now[experiment][profile]) == before[experiment][profile], (experiment, profile)


def leaves(tree, path=()):
    """{path: value} of every leaf: a non-dict, an empty dict or a Replace."""
    if isinstance(tree, dict) and tree:
        return {k: v for key, sub in tree.items() for k, v in leaves(sub, path + (key,)).items()}
    return {path: tree.value if isinstance(tree, Replace) else tree}


def differences(a, b, path=()):
    """Paths where a and b differ, down to the first non-dict (or a dict against a non-dict)."""
    if isinstance(a, dict) and isinstance(b, dict) and a and b:
        assert set(a) == set(b), path
        return {p for key in a for p in differences(a[key], b[key], path + (key,))}
    return set() if as_json(a) == as_json(b) else {path}


@pytest.mark.parametrize("profile", ["smoke", "paper"])
@pytest.mark.parametrize("experiment", profiles.experiments())
def test_smoke_and_paper_differ_from_quick_exactly_where_declared(experiment, profile):
    quick, other = profiles.get("quick", experiment), profiles.get(profile, experiment)
    declared = leaves(profiles.changes(profile, experiment))
    declared.pop((), None)  # an empty change: no difference at all
    assert differences(quick, other) == set(declared)  # every difference declared, none idle
    for path, value in declared.items():
        got = other
        for key in path:
            got = got[key]
        assert as_json(got) == as_json(value), path
    assert profiles.changes("quick", experiment) == quick  # quick is written in full


def test_get_returns_fresh_copies():
    p = profiles.get("quick", "pde_symmetries")
    p["learn"]["lr"] = 99.0
    p["equations"].append("Heat")
    assert profiles.get("quick", "pde_symmetries")["learn"]["lr"] == 1e-3
    assert "Heat" not in profiles.get("quick", "pde_symmetries")["equations"]
    with pytest.raises(ValueError, match="profile must be one of smoke, quick, paper; got 'fast'"):
        profiles.get("fast", "intro")
    with pytest.raises(ValueError, match="experiment must be one of pde_data, intro"):
        profiles.get("quick", "pde_symmetry")


def test_unknown_key_lists_the_valid_keys_at_its_level():
    base = profiles.get("quick", "pde_augmentation")
    with pytest.raises(
        ValueError,
        match=r"overrides\['fit'\]: unknown key 'learning_rate'; "
        r"valid keys: batch, lr, weight_decay, p_original, max_epochs",
    ):
        merge(base, {"fit": {"learning_rate": 1e-3}})
    with pytest.raises(ValueError, match=r"^overrides: unknown key 'equation'; valid keys: equations, sizes"):
        profiles.resolved("quick", "pde_augmentation", {"equation": "KdV"})


@pytest.mark.parametrize(
    "overrides, path, expected, shown",
    [
        ({"learn": {"lr": "1e-3"}}, r"overrides\['learn'\]\['lr'\]", "a number", r"'1e-3' \(str\)"),
        ({"learn": {"adjoint": 1}}, r"overrides\['learn'\]\['adjoint'\]", "a bool", r"1 \(int\)"),
        ({"learn": {"iterations": True}}, r"overrides\['learn'\]\['iterations'\]", "a number", r"True \(bool\)"),
        ({"equations": "KdV"}, r"overrides\['equations'\]", "a list", r"'KdV' \(str\)"),
        ({"learn": {"method": 6}}, r"overrides\['learn'\]\['method'\]", "a str", r"6 \(int\)"),
        ({"learn": [1, 2]}, r"overrides\['learn'\]", "a dict", r"\[1, 2\] \(list\)"),
        (
            {"learn": {"weights": {"sym": [1.0]}}},
            r"overrides\['learn'\]\['weights'\]\['sym'\]",
            "a number",
            r"\[1.0\] \(list\)",
        ),
    ],
)
def test_type_mismatch_names_the_path_the_type_and_the_value(overrides, path, expected, shown):
    with pytest.raises(ValueError, match=rf"^{path}: expected {expected} \(like .*\); got {shown}$"):
        profiles.resolved("quick", "pde_symmetries", overrides)


def test_fitting_types_none_and_replace_are_accepted():
    quick = profiles.get("quick", "pde_symmetries")
    p = merge(
        quick,
        {
            "learn": {"lr": 1, "iterations": 10.0, "clip": None, "affine": None, "times": (0.5, 1.0)},
            "evaluate": {"s_values": [0.1]},
        },
    )
    assert p["learn"]["lr"] == 1 and p["learn"]["iterations"] == 10.0  # int and float alike
    assert p["learn"]["clip"] is None and p["learn"]["affine"] is None  # None for any setting
    assert p["learn"]["times"] == (0.5, 1.0) and p["evaluate"]["s_values"] == [0.1]
    assert p["learn"]["width"] == 32 and p["evaluate"]["steps"] == 10  # the rest untouched
    paper = profiles.get("paper", "pde_symmetries")  # a None base takes any value
    p = merge(paper, {"learn": {"clip": 0.5, "affine": {"centre": [0, 0, 0], "scale": [0, 1, 0]}}})
    assert p["learn"]["clip"] == 0.5 and p["learn"]["affine"]["scale"] == [0, 1, 0]
    assert profiles.resolved("paper", "pde_data", {"step": {"KdV": 0.01}})["step"] == {"KdV": 0.01}
    # a dict merges key by key unless wrapped in Replace
    base = {"a": {"b": 1, "c": 2}, "d": 0}
    assert merge(base, {"a": {}}) == base
    assert merge(base, {"a": Replace({})}) == {"a": {}, "d": 0}
    assert merge(base, {"a": Replace({"z": 1})}) == {"a": {"z": 1}, "d": 0}  # no key check inside
    with pytest.raises(ValueError, match=r"overrides\['a'\]: expected a dict"):
        merge(base, {"a": Replace(3)})
    assert base == {"a": {"b": 1, "c": 2}, "d": 0}  # inputs untouched
    assert merge(base, None) == base and merge(base, None) is not base
    with pytest.raises(ValueError, match="overrides must be a dict"):
        merge(base, "a=1")


def test_extra_modules_from_the_setting_and_the_variable(monkeypatch):
    monkeypatch.delenv(profiles.ENV_EXTRA_MODULES, raising=False)
    assert profiles.extra_modules() == () == profiles.EXTRA_MODULES
    monkeypatch.setenv(profiles.ENV_EXTRA_MODULES, "")
    assert profiles.extra_modules() == ()
    monkeypatch.setenv(profiles.ENV_EXTRA_MODULES, " mine , theirs,,mine")
    assert profiles.extra_modules() == ("mine", "theirs")
    monkeypatch.setattr(profiles, "EXTRA_MODULES", ("lab.equations", "theirs"))
    assert profiles.extra_modules() == ("lab.equations", "theirs", "mine")
