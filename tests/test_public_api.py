"""The package's public names resolve, and importing the image path does not load the PDE stack."""

import subprocess
import sys

import symflow


def test_every_public_name_resolves_to_its_module_attribute():
    from symflow import generators, learning, profiles
    from symflow.pde import pdes

    assert symflow.__all__ == sorted(symflow.__all__) and len(symflow.__all__) >= 10
    for name in symflow.__all__:
        assert getattr(symflow, name) is not None, name
    assert symflow.GeneratorField is generators.GeneratorField and symflow.learn is learning.learn
    assert symflow.equation is pdes.get and symflow.settings is profiles.resolved


def test_the_image_modules_do_not_import_sympy_or_the_pde_registry():
    code = (
        "import sys, symflow, symflow.image.image_symmetries, symflow.image.image_augmentation; "
        "print('sympy' in sys.modules, 'symflow.pde.pdes' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_the_domain_packages_never_import_each_other_and_the_core_imports_neither():
    """The layout's rule, read from the source: symflow.pde never imports symflow.image and the
    reverse; a core module imports a domain package only where it must read the equation registry
    (algebra)."""
    import re
    from pathlib import Path

    import symflow

    root = Path(symflow.__file__).parent
    pattern = re.compile(r"^\s*from (\.+)(pde|image)?\b|^\s*(?:from|import) symflow\.(pde|image)\b", re.M)

    def domains_imported(path: Path, package: str | None) -> set[str]:
        found = set()
        for dots, sub, absolute in pattern.findall(path.read_text()):
            if absolute:
                found.add(absolute)
            elif sub:
                found.add(sub)
            elif package and len(dots) == 1:
                found.add(package)
        return found

    for package, other in (("pde", "image"), ("image", "pde")):
        for path in (root / package).glob("*.py"):
            assert other not in domains_imported(path, package), f"{path.name} imports symflow.{other}"
    core_importers = {p.name for p in root.glob("*.py") if domains_imported(p, None)}
    assert core_importers <= {"algebra.py", "__init__.py"}, core_importers
