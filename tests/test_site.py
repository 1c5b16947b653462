"""The results site (`symflow.site`): the index and the executed notebooks of a smoke run, rendered
without executing them again; every link inside the site resolves to a file of the site."""

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from symflow import runner, site

NOTEBOOK = "00_generators_and_flows"


class _Links(HTMLParser):
    """The href and src attributes of an HTML page."""

    def __init__(self):
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.targets += [value for name, value in attrs if name in ("href", "src") and value]


def internal_links(folder: Path) -> dict[Path, list[str]]:
    """{page: its links that point inside the site} for every HTML page under `folder`: links
    without a scheme or host, with a path (not only `#anchor`), query and fragment removed."""
    links = {}
    for page in sorted(folder.rglob("*.html")):
        parser = _Links()
        parser.feed(page.read_text())
        links[page] = [unquote(urlsplit(t).path) for t in parser.targets if not urlsplit(t).scheme and urlsplit(t).path]
    return links


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    """A results root holding notebook 00 run at the smoke profile by the runner."""
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("results")
        mp.setenv("SYMFLOW_RESULTS", str(root))
        runner.run_notebook(NOTEBOOK, "smoke")
        yield root


@pytest.mark.notebook
def test_runner_writes_no_html_export_and_no_netcdf_copy_of_tables(smoke_results):
    folder = smoke_results / NOTEBOOK / "smoke"
    assert (folder / f"{NOTEBOOK}.ipynb").exists() and (folder / "group_law.csv").exists()
    assert not list(folder.glob("*.html")) and not list(folder.glob("*.nc"))


@pytest.mark.notebook
def test_site_of_a_smoke_run_links_only_to_files_of_the_site(smoke_results, tmp_path):
    said = []
    index = site.build("smoke", smoke_results, tmp_path / "site", log=said.append)
    out = tmp_path / "site"
    assert index == out / "index.html" and index.exists()
    page = out / NOTEBOOK / "smoke" / f"{NOTEBOOK}.html"
    assert page.exists(), "the executed notebook has a page"
    links = internal_links(out)

    def resolves(page: Path, target: str) -> bool:
        path = (page.parent / target).resolve()
        return path.is_file() and path.is_relative_to(out.resolve())

    broken = [(p.relative_to(out), t) for p, ts in links.items() for t in ts if not resolves(p, t)]
    assert not broken, f"links to files that are not in the site: {broken}"
    assert f"{NOTEBOOK}/smoke/{NOTEBOOK}.html" in links[index], "the index links to the notebook's page"
    assert any(t.endswith("group_law.csv") for t in links[index]), "the index links to a table"
    assert any(t.startswith("../../_images/") for t in links[page]), "the notebook's figures are shown"
    assert "is not the index of profile 'smoke'" in said[0], "no README.md in the root: the index is generated"
    assert not (smoke_results / NOTEBOOK / "smoke" / f"{NOTEBOOK}.html").exists(), "results/ is only read"


def test_links_of_the_index_are_rewritten_for_the_site(tmp_path):
    folder = tmp_path / "00_a" / "quick"
    folder.mkdir(parents=True)
    for name in ("00_a.ipynb", "fig.png", "t.csv"):
        (folder / name).write_text("x")
    text = (
        "![fig](00_a/quick/fig.png) [t.csv](00_a/quick/t.csv#top) [ipynb](00_a/quick/00_a.ipynb) "
        "[html](00_a/quick/00_a.html) [gone](00_a/quick/gone.csv) [up](../README.md) [paper](https://arxiv.org)"
    )
    rewritten, linked, dropped = site.rewrite_links(text, tmp_path)
    assert rewritten == (
        "![fig](00_a/quick/fig.png) [t.csv](00_a/quick/t.csv#top) [ipynb](00_a/quick/00_a.ipynb) "
        "[html](00_a/quick/00_a.ipynb) gone up [paper](https://arxiv.org)"
    )
    assert linked == ["00_a/quick/fig.png", "00_a/quick/t.csv", "00_a/quick/00_a.ipynb"]
    assert dropped == ["00_a/quick/gone.csv", "../README.md"]


def test_bad_input_names_the_parameter_or_folder(tmp_path, capsys):
    with pytest.raises(ValueError, match="profile must be one of"):
        site.build("fast", tmp_path, tmp_path / "site")
    with pytest.raises(FileNotFoundError, match="results folder .*missing does not exist"):
        site.build("smoke", tmp_path / "missing", tmp_path / "site")
    with pytest.raises(FileNotFoundError, match=r"no executed notebooks in .*/<notebook>/smoke/"):
        site.build("smoke", tmp_path, tmp_path / "site")
    with pytest.raises(SystemExit) as exit_:
        site.main(["--profile", "quick", "--results", str(tmp_path), "--out", str(tmp_path / "site")])
    assert exit_.value.code == 2 and "no executed notebooks" in capsys.readouterr().err
    assert not (tmp_path / "site").exists()


def _scripts(page: Path) -> list[str]:
    """The src attributes of the <script> elements of an HTML page."""

    class Scripts(HTMLParser):
        def __init__(self):
            super().__init__()
            self.src: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.src += [value for name, value in attrs if tag == "script" and name == "src" and value]

    parser = Scripts()
    parser.feed(page.read_text())
    return parser.src


def test_maths_is_typeset_by_a_mathjax_shipped_with_the_site(tmp_path):
    """A page with maths built with the site's configuration loads MathJax from the site itself
    (read offline, a CDN would leave raw \\( ... \\) on the page), and that file is in the build."""
    from sphinx.cmd.build import build_main

    source, html = tmp_path / "source", tmp_path / "html"
    source.mkdir()
    (source / "index.md").write_text("# Maths\n\nInline $\\phi_s(z)$ and displayed\n\n$$\\frac{d}{ds}\\phi_s = V$$\n")
    command = ["-q", "-b", "html", "-c", str(site.CONF), "-d", str(tmp_path / "doctrees"), str(source), str(html)]
    assert build_main(command) == 0
    page = html / "index.html"
    assert 'class="math' in page.read_text(), "the page has maths for MathJax to typeset"
    scripts = _scripts(page)
    maths = [s for s in scripts if "mathjax" in s.lower() or "katex" in s.lower()]
    assert maths, f"no MathJax script on a page with maths: {scripts}"
    remote = [s for s in scripts if urlsplit(s).scheme or s.startswith("//")]
    assert not remote, f"scripts loaded from outside the site (a CDN): {remote}"
    for script in maths:
        assert (page.parent / unquote(urlsplit(script).path)).is_file(), f"{script} is not in the build"
