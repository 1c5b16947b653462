"""symflow: learning infinitesimal generators of continuous symmetries from data.

A thin library behind the compendium's notebooks. The names a reader uses most are exported here
(loaded on first use, so `import symflow` stays light and the image modules never load the PDE
stack); everything else lives in its module:

    symflow        the domain-free core: fields and inner products (generators), flows, losses, the
                   one training loop (learning), span metrics, Lie algebra (algebra), settings
                   (profiles), io, and the tools around the notebooks (runner, sweep, status,
                   report, site)
    symflow.pde    equations (pdes), solvers, derivatives, graph transforms and residual validity
                   (pde_graphs), generator learning (pde_learning), headroom, the FNO (fno),
                   augmentation, the solver experiments (solver_experiments, augmentation_study)
    symflow.image  data sets and classifiers (images), feature validity, LieGG and learning
                   (image_symmetries), augmentation (image_augmentation)

The core never imports the domain packages at import time (only `algebra` reads the equation
registry), and `symflow.image` never imports `symflow.pde`.
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
    "equation": ("pde.pdes", "get"),
    "register_equation": ("pde.pdes", "register"),
    "equation_names": ("pde.pdes", "names"),
    "train_pde_generators": ("pde.pde_learning", "train"),
    "learn_image_symmetries": ("image.image_symmetries", "learn_symmetries"),
    "ImageLearning": ("image.image_symmetries", "ImageLearning"),
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
