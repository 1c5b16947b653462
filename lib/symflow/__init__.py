"""symflow: learning infinitesimal generators of continuous symmetries from data.

A thin library behind the compendium's notebooks. The names a reader uses most are exported here
(loaded on first use, so `import symflow` stays light and the image modules never load the PDE
stack); everything else lives in its module:

    core     generators, flows, losses, learning, metrics, algebra, profiles, io, runner, status, report
    PDEs     pdes, solvers, derivatives, pde_graphs, pde_learning, fno, augmentation,
             solver_experiments, augmentation_study
    images   images, image_symmetries, image_augmentation
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> (module, attribute)
_EXPORTS = {
    "Field": ("generators", "Field"),
    "GeneratorField": ("generators", "GeneratorField"),
    "FunctionField": ("generators", "FunctionField"),
    "InnerProduct": ("generators", "InnerProduct"),
    "normalise": ("generators", "normalise"),
    "orthonormalise": ("generators", "orthonormalise"),
    "flow": ("flows", "flow"),
    "learn": ("learning", "learn"),
    "Schedule": ("learning", "Schedule"),
    "NonFiniteLoss": ("learning", "NonFiniteLoss"),
    "fraction_in_span": ("metrics", "fraction_in_span"),
    "principal_angles": ("metrics", "principal_angles"),
    "equation": ("pdes", "get"),
    "register_equation": ("pdes", "register"),
    "equation_names": ("pdes", "names"),
    "train_pde_generators": ("pde_learning", "train"),
    "learn_image_symmetries": ("image_symmetries", "learn_symmetries"),
    "settings": ("profiles", "resolved"),
    "run_notebook": ("runner", "run_notebook"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
