"""The package's public names resolve, and importing the image path does not load the PDE stack."""

import subprocess
import sys

import symflow


def test_every_public_name_resolves_to_its_module_attribute():
    from symflow import generators, learning, pdes, profiles

    assert symflow.__all__ == sorted(symflow.__all__) and len(symflow.__all__) >= 10
    for name in symflow.__all__:
        assert getattr(symflow, name) is not None, name
    assert symflow.GeneratorField is generators.GeneratorField and symflow.learn is learning.learn
    assert symflow.equation is pdes.get and symflow.settings is profiles.resolved


def test_the_image_modules_do_not_import_sympy_or_the_pde_registry():
    code = (
        "import sys, symflow, symflow.image_symmetries, symflow.image_augmentation; "
        "print('sympy' in sys.modules, 'symflow.pdes' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
