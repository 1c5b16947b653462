"""Sphinx configuration of the results site.

`python -m symflow.site` (`make site`) stages results/README.md as `index.md` and the executed
notebooks of one profile into a build folder, then runs sphinx-build with this folder as its
configuration directory (`-c docs/site`). The notebooks are rendered with the outputs they were
saved with; nothing is executed.
"""

project = "symflow"
html_title = "symflow results"  # the builder passes `-D html_title=...` naming the profile

# Maths is typeset in the browser by MathJax 3 shipped with the site, not fetched from a CDN, so
# pages read offline (file://) show formulas rather than raw \( ... \). The sphinx-mathjax-offline
# package (requirements.txt) copies its MathJax 3.2.2 into `_static/mathjax/` of the build; `setup`
# below picks its SVG component, which needs no font files (CHTML's web fonts may be refused on file://).
extensions = ["myst_nb", "sphinx-mathjax-offline"]
MATHJAX = "mathjax/tex-svg.js"  # relative to _static/; tests/test_site.py checks it is in the build

# Render the saved outputs; never run a notebook again.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

exclude_patterns = ["**/.ipynb_checkpoints"]
smartquotes = False  # table cells such as {'seed': 1} are Python values: keep their quotes straight

html_theme = "alabaster"
html_theme_options = {
    "page_width": "min(1500px, 96vw)",
    "sidebar_width": "240px",
    "fixed_sidebar": False,
    "show_relbars": True,
}
html_static_path = ["_static"]
html_css_files = ["site.css"]
html_copy_source = False  # the notebooks are in results/ already; no _sources/ copies
html_show_sourcelink = False
html_show_copyright = False


def setup(app):
    # Runs after the extensions' own setup: sphinx-mathjax-offline sets mathjax_path to its CHTML
    # component, overridden here.
    app.config.mathjax_path = MATHJAX
