"""Every command a user is told to run works as written, without running anything long.

The commands are read from README.md, the module docstrings of examples/*.py and of the library
(lib/symflow/**/*.py): the lines of fenced code blocks in Markdown, the indented lines of a
docstring (a trailing backslash joins the next line) and inline code spans in both, that start
with `python -m symflow`, `.venv/bin/python -m symflow`, `make` or `python -c` (after any VAR=value
assignments in front). Optional parts written `[--flag VALUE]` are checked as if given; a note
after two spaces (`  # ...`, `  (make status)`) is not part of the command. Each is checked by
the code that would run it, stopped before it does any work:

    symflow.runner          (with arguments) its own command line (`runner.main`) with `run_notebook` replaced by
                            a recorder: the notebook exists and every -p is one of its parameters
                            (`runner.check_parameters`, a usage error otherwise); then `overrides`
                            merges into the notebook's settings (`profiles.resolved`, as
                            `run_notebook` checks them) and names only registered equations
    symflow.pde.solvers     its own command line (`solvers.main`) up to the first data set: the
                            flags parse, the profile exists and every --equations name is registered
    other symflow modules   `--help` lists every flag the command uses
    make                    `make -n TARGET VAR=value...` (prints, runs nothing) exits 0
    python -c               runs (they are the examples' quick checks of the symmetries)

Equations are looked up with every example module registered (SYMFLOW_EXTRA_MODULES), as the
examples tell users to do before the commands that name them.
"""

from __future__ import annotations

import ast
import contextlib
import io as _io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from symflow import io, profiles, runner
from symflow.pde import pdes, solvers

REPO = io.REPO
EXAMPLES = REPO / "examples"
EXAMPLE_MODULES = tuple(sorted(p.stem for p in EXAMPLES.glob("*.py")))
MAKE_ENV = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}

PREFIXES = ("python -m symflow", ".venv/bin/python -m symflow", "make", "python -c", ".venv/bin/python -c")
_ASSIGNMENT = re.compile(r"^(?:export\s+)?(?:[A-Za-z_][A-Za-z0-9_]*=(?:'[^']*'|\"[^\"]*\"|\S*)\s+)+")
_NOTE = re.compile(r"\s{2,}(?=[#(])")  # two spaces, then a comment or a parenthesised note
_OPTIONAL = re.compile(r"\[(--?[A-Za-z][^\[\]]*)\]")  # [--flag VALUE] -> --flag VALUE


# ------------------------------------------------------------------------------------ extraction
def command_of(text: str) -> str | None:
    """The command in one line of text (continuations already joined), or None when it is not one
    the tests check: leading VAR=value assignments and a trailing note dropped, optional
    `[--flag ...]` parts kept, whitespace collapsed."""
    text = " ".join(_NOTE.split(text.strip(), maxsplit=1)[0].split())
    rest = _ASSIGNMENT.sub("", text)
    if not any(rest == p or rest.startswith(p + " ") or rest.startswith(p + ".") for p in PREFIXES):
        return None
    if rest.startswith("make") and not (rest == "make" or rest.startswith("make ")):
        return None
    return _OPTIONAL.sub(r"\1", text)


def _joined(lines: list[str]) -> list[tuple[int, str]]:
    """(index of the first line, text) with each line ending in a backslash joined to the next."""
    out, start, parts = [], None, []
    for i, line in enumerate(lines):
        if start is None:
            start = i
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            parts.append(stripped[:-1])
            continue
        parts.append(stripped)
        out.append((start, " ".join(p.strip() for p in parts)))
        start, parts = None, []
    if parts:
        out.append((start, " ".join(p.strip() for p in parts)))
    return out


def _inline_spans(text: str) -> list[tuple[int, str]]:
    """(line index, content) of every inline code span `...` (it may run over a line break, not a
    blank line)."""
    found = []
    for match in re.finditer(r"(?<!`)`([^`]+?)`(?!`)", text):
        if "\n\n" not in match.group(1) and len(match.group(1)) < 400:
            found.append((text.count("\n", 0, match.start()), " ".join(match.group(1).split())))
    return found


def commands_in_markdown(text: str) -> list[tuple[int, str]]:
    """(line number, command) of the lines of fenced code blocks and of the inline code spans
    outside them."""
    fenced, outside, block, inside = [], [], [], False
    for i, line in enumerate(text.splitlines()):
        fence = line.lstrip().startswith("```")
        if fence and inside:
            fenced += [(block[0][0] + j, t) for j, t in _joined([b for _, b in block])] if block else []
            block = []
        elif inside:
            block.append((i, line))
        inside ^= fence
        outside.append("" if fence or inside else line)
    found = fenced + _inline_spans("\n".join(outside))
    return [(i + 1, c) for i, text_ in sorted(found) if (c := command_of(text_))]


def commands_in_docstring(doc: str, first_line: int = 1) -> list[tuple[int, str]]:
    """(line number, command) of the indented lines (joined over trailing backslashes) and inline
    code spans of a docstring whose first line is `first_line` of its file."""
    lines = doc.splitlines()
    indented = [(i, line) for i, line in enumerate(lines) if re.match(r"^\s{4,}\S", line)]
    found, run = [], []
    for i, line in indented + [(None, "")]:  # consecutive indented lines are joined over backslashes
        if run and (i is None or i != run[-1][0] + 1):
            found += [(run[0][0] + j, t) for j, t in _joined([t for _, t in run])]
            run = []
        if i is not None:
            run.append((i, line))
    found += _inline_spans(doc)
    return [(first_line + i, c) for i, text in found if (c := command_of(text))]


def module_docstring(path: Path) -> tuple[str, int]:
    """The module docstring of a Python file and the line it starts on ("" when it has none)."""
    tree = ast.parse(path.read_text())
    node = tree.body[0] if tree.body else None
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
        return node.value.value, node.lineno
    return "", 1


def sources() -> list[Path]:
    """The files whose commands are checked."""
    return [
        REPO / "README.md",
        *sorted(EXAMPLES.glob("*.py")),
        *sorted((REPO / "lib" / "symflow").rglob("*.py")),
    ]


def recipes() -> list[tuple[str, str]]:
    """(where, command) of every command of `sources()`, in order, each (file, command) once."""
    out, seen = [], set()
    for path in sources():
        if path.suffix == ".md":
            found = commands_in_markdown(path.read_text())
        else:
            doc, first = module_docstring(path)
            found = commands_in_docstring(doc, first)
        for line, command in found:
            key = (path, command)
            if key not in seen:
                seen.add(key)
                out.append((f"{path.relative_to(REPO)}:{line}", command))
    return out


# ---------------------------------------------------------------------------------------- checks
class Accepted(Exception):
    """Raised by a stand-in for the work a command would start: its arguments were accepted."""


@pytest.fixture
def registry(example_registry):
    """Every example module registered (as the examples tell users to), the registry restored
    afterwards (conftest's example_registry)."""
    example_registry.setenv(profiles.ENV_EXTRA_MODULES, ",".join(EXAMPLE_MODULES))
    return example_registry


def _argv(command: str) -> tuple[dict, list[str]]:
    """(leading VAR=value assignments, the remaining words) of a command, split as a shell would."""
    words = shlex.split(command)
    env = {}
    if words and words[0] == "export":
        words = words[1:]
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    return env, words


def _module_args(words: list[str]) -> tuple[str, list[str]]:
    """(module, its arguments) of `python -m module args...`."""
    assert "-m" in words, words
    i = words.index("-m")
    return words[i + 1], words[i + 2 :]


def check_runner(args: list[str], monkeypatch) -> dict:
    """`python -m symflow.runner args` up to running the notebook: returns what `run_notebook`
    would have been given. A rejected command raises SystemExit (usage error) or ValueError."""
    given = {}

    def recorder(notebook, profile, device="cpu", parameters=None, tag=None, html=False, progress=False):
        given.update(notebook=notebook, profile=profile, parameters=dict(parameters or {}), tag=tag)
        raise Accepted

    monkeypatch.setattr(runner, "run_notebook", recorder)
    with pytest.raises(Accepted), contextlib.redirect_stderr(_io.StringIO()):
        runner.main(["--quiet", *args])
    overrides = given["parameters"].get("overrides")
    experiment = runner.NOTEBOOK_SETTINGS.get(given["notebook"])
    if experiment:  # run_notebook's own check of the overrides, before it starts a kernel
        settings = profiles.resolved(given["profile"], experiment, overrides)
        for name in settings.get("equations") or []:
            pdes.get(name)  # a ValueError for a name no module registers
    return given


def check_solvers(args: list[str], monkeypatch) -> None:
    """`python -m symflow.pde.solvers args` up to its first data set (none is generated)."""
    import torch

    def first_data_set(*_, **__):
        raise Accepted

    monkeypatch.setattr(solvers, "dataset", first_data_set)
    threads = torch.get_num_threads()
    try:
        with pytest.raises(Accepted), contextlib.redirect_stderr(_io.StringIO()):
            solvers.main(args)
    finally:
        torch.set_num_threads(threads)


def check_help(module: str, args: list[str]) -> None:
    """Every flag of `args` is listed by `python -m module --help`, and a --profile is a profile."""
    import importlib

    main = importlib.import_module(module).main
    out = _io.StringIO()
    with pytest.raises(SystemExit) as done, contextlib.redirect_stdout(out):
        main(["--help"])
    assert done.value.code in (0, None)
    listed = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", out.getvalue()))
    flags = [a.split("=", 1)[0] for a in args if a.startswith("-")]
    assert not [f for f in flags if f not in listed], f"{module} --help lists none of {flags}"
    if "--profile" in args:
        profiles.check_profile(args[args.index("--profile") + 1])


def check_make(args: list[str]) -> None:
    """`make -n args` (prints the commands, runs none but those of sub-makes, also with -n)."""
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", *args],
        cwd=REPO,
        env=MAKE_ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def check_python_c(env: dict, words: list[str]) -> None:
    """Run `python -c CODE` from the repository root with the command's variables (PYTHONPATH
    relative to the root, the library added as `make setup`'s editable install would)."""
    code = words[words.index("-c") + 1]
    path = [str(REPO / p) for p in env.pop("PYTHONPATH", "").split(os.pathsep) if p]
    run_env = {**os.environ, **env, "OMP_NUM_THREADS": "1"}
    run_env["PYTHONPATH"] = os.pathsep.join([*path, str(REPO / "lib")])
    run_env.pop(profiles.ENV_EXTRA_MODULES, None)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=run_env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]


def check(command: str, monkeypatch) -> None:
    """Check one command as the module docstring says; raises (AssertionError, SystemExit,
    ValueError) when it would fail."""
    env, words = _argv(command)
    if words[0] == "make":
        return check_make(words[1:])
    if "-c" in words:
        return check_python_c(env, words)
    module, args = _module_args(words)
    if not args:  # a module named, not a command given: it must have a command line
        check_help(module, args)
    elif module == "symflow.runner":
        check_runner(args, monkeypatch)
    elif module == "symflow.pde.solvers":
        check_solvers(args, monkeypatch)
    else:
        check_help(module, args)


RECIPES = recipes()


@pytest.mark.parametrize("where,command", RECIPES, ids=[f"{w} {c[:60]}" for w, c in RECIPES])
def test_every_command_users_are_told_to_run_is_accepted(where, command, registry):
    check(command, registry)


def test_the_recipes_are_found():
    """The extraction sees the commands of the README's command block, of inline spans, of both
    examples (continuation lines joined) and of the library's docstrings: the test above cannot
    pass by checking nothing."""
    commands = [c for _, c in RECIPES]
    wheres = {w.split(":")[0] for w, _ in RECIPES}
    assert {"README.md", "examples/my_equations.py", "examples/my_nonaffine_equation.py"} <= wheres
    assert "make reproduce" in commands and "make test" in commands  # the fenced block
    assert "make reproduce PROFILE=paper DEVICE=cuda" in commands  # an inline span
    assert "python -m symflow.site --profile quick --results DIR --out DIR" in commands  # [optional] kept
    assert "python -m symflow.status --profile quick" in commands  # note "(make status)" dropped
    assert ".venv/bin/python -m symflow.pde.solvers --profile quick --equations KdV2" in commands
    assert (
        ".venv/bin/python -m symflow.runner 06_generator_algebra --profile quick "
        '-p \'overrides={"equations": ["vKdV"]}\' -p image_dir=results/04_image_symmetries/quick'
    ) in commands  # joined over its backslash
    runs = [c for c in commands if "symflow.runner" in c]
    assert sum("02_pde_symmetries" in c for c in runs) >= 2 and sum("06_generator_algebra" in c for c in runs) >= 2
    assert sum(" -c " in c for c in commands) == 2  # each example's check of its symmetries


def test_extraction_of_a_docstring():
    doc = (
        "Title.\n\n"
        "    .venv/bin/python -m symflow.runner 02_pde_symmetries --profile quick \\\n"
        "        -p 'overrides={\"seed\": 1}'\n"
        "    python -m symflow.report [--profile quick]        (make report)\n"
        "    some_other_tool --flag\n"
        "Run `make data PROFILE=smoke` or `make\n  status`; `ruff check` is not checked.\n"
    )
    assert commands_in_docstring(doc, 10) == [
        (12, ".venv/bin/python -m symflow.runner 02_pde_symmetries --profile quick -p 'overrides={\"seed\": 1}'"),
        (14, "python -m symflow.report --profile quick"),
        (16, "make data PROFILE=smoke"),
        (16, "make status"),
    ]
    text = "```bash\nmake reproduce    # all\nPYTHONPATH=x python -m symflow.status\n```\nsee `make help`.\n"
    assert commands_in_markdown(text) == [
        (2, "make reproduce"),
        (3, "PYTHONPATH=x python -m symflow.status"),
        (5, "make help"),
    ]


BAD = [
    # notebook 02 has no parameter `equations`: it is a setting, passed in overrides
    ".venv/bin/python -m symflow.runner 02_pde_symmetries --profile quick -p \"equations=['KdV2']\"",
    ".venv/bin/python -m symflow.runner 06_generator_algebra --profile quick -p \"equations=['KdV2']\"",
    'python -m symflow.runner 01_pde_data -p \'overrides={"equation": ["KdV"]}\'',  # no such setting
    'python -m symflow.runner 02_pde_symmetries -p \'overrides={"equations": ["Heat"]}\'',  # not registered
    "python -m symflow.runner 99_nope --profile quick",
    "python -m symflow.runner 02_pde_symmetries --profile fast",
    "python -m symflow.pde.solvers --profile quick --equations KdV2 --nx 128",  # nx is a setting, no flag
    "python -m symflow.pde.solvers --profile quick --equations Heat",
    "python -m symflow.status --profile quick --verbose",
    "make reproduction",
    'PYTHONPATH=examples python -c "import no_such_module_xyz"',
]


@pytest.mark.parametrize("command", BAD)
def test_a_wrong_command_fails_the_check(command, registry):
    assert command_of(command) is not None
    with pytest.raises((AssertionError, SystemExit, ValueError)):
        check(command, registry)


def test_the_old_recipe_is_rejected_with_the_runners_advice(registry, capsys):
    """The recipe examples/my_equations.py once gave fails as the runner's usage error, which says
    what to write instead."""
    _, words = _argv(BAD[0])
    with pytest.raises(SystemExit) as done:
        check_runner(_module_args(words)[1], registry)
    assert done.value.code == 2
    with pytest.raises(SystemExit):
        runner.main(["--quiet", *_module_args(words)[1]])
    said = capsys.readouterr().err
    assert "has no parameter 'equations'" in said and "-p 'overrides={\"equations\": ...}'" in said
