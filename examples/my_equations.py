"""A worked example of adding an equation: KdV with nonlinear coefficient 2, registered as "KdV2".

    KdV2     u_t + 2 u u_x + u_xxx = 0             L=128, T=100 (KdV's domain, times and sampling)

How to add an equation of your own without editing the library or a notebook
(commands run from the repository root, in the venv that `make setup` builds):

1. Write a module that builds a `symflow.pde.pdes.Equation` and passes it to `pdes.register`, like
   this one. The easiest way is to derive it from a built-in equation with `dataclasses.replace`
   and change only what differs: here the name and formula, the right-hand side `rhs` (it must
   work on sympy symbols and torch tensors alike), the solver's `flux_scale` (the nonlinear part
   is flux_scale * d_x(u^2)) and the known symmetries. Declare every symmetry with its kind
   ("exact", "approximate", "broken_by_domain" or "control"; see `symflow.pde.pdes`); the recovery
   tables of notebook 02 score the learned generators against them.

2. Check the symmetries with the linearised symmetry condition (0 exactly for a symmetry):

       PYTHONPATH=examples .venv/bin/python -c "import my_equations, symflow.pde.pdes as p; \\
           eq = p.get('KdV2'); print([(s.name, p.symmetry_defect(eq, s)) for s in eq.symmetries])"

3. Tell symflow to import the module: put its folder on the Python path and name it in the
   environment variable SYMFLOW_EXTRA_MODULES (several modules: comma-separated):

       export PYTHONPATH=$PWD/examples SYMFLOW_EXTRA_MODULES=my_equations

   (or, instead of the variable, list it once in `EXTRA_MODULES` in lib/symflow/profiles.py).
   Every later use of the registry imports it first, so the equation is listed by
   `pdes.names()` and returned by `pdes.get("KdV2")` in every process started from this shell:
   the data generator, the notebooks (the runner's kernel inherits the variables) and the tables.
   A module that cannot be imported stops the run with an ImportError naming it.

4. Generate its data sets (data/<profile>/KdV2_<split>.nc), the command `make data` runs:

       .venv/bin/python -m symflow.pde.solvers --profile quick --equations KdV2

   Without --equations it generates every registered equation, the extra ones included (so does
   `make data`, when its stamp data/<profile>/.complete is out of date). The sizes, grid and seeds
   are the profile's `pde_data` settings; the solver step is the profile's entry for the
   equation's name in `pde_data["step"]`, and an equation without one (like KdV2) takes its own
   default `Equation.step` (here KdV's 0.005: slower than the quick profile's 0.02 for KdV, but
   accurate).

5. Run the notebooks on it by naming it in their `overrides` (the list of equations is a setting
   of each notebook's settings entry, whose defaults hold the five; a parameter the notebook does
   not have is an error). So that the committed results/ are not replaced by a run of this one
   equation, write them elsewhere first (notebook 06 then needs notebook 04's committed results):

       export SYMFLOW_RESULTS=$PWD/scratch/results
       .venv/bin/python -m symflow.runner 02_pde_symmetries --profile quick -p 'overrides={"equations": ["KdV2"]}'
       .venv/bin/python -m symflow.runner 06_generator_algebra --profile quick \\
           -p 'overrides={"equations": ["KdV2"]}' -p image_dir=results/04_image_symmetries/quick

   Notebooks 01, 03 and 07 take the same `-p 'overrides={"equations": ["KdV2"]}'`.
   examples/my_nonaffine_equation.py walks the same path for an equation whose symmetries are
   not affine, with the headroom check of its data in between.

tests/test_extensions.py runs steps 3 and 4 at the smoke profile; tests/test_recipes.py checks that
every command above is accepted.
"""

import dataclasses

from symflow.pde import pdes
from symflow.pde.pdes import Symmetry, t, u, x

A = 2  # the nonlinear coefficient (KdV's is 1); an integer keeps the symmetry algebra exact

KDV = pdes.get("KdV")


def kdv2_rhs(t_, u_, u1, u2, u3, u4):
    """u_t = -A u u_x - u_xxx (for sympy symbols and torch tensors alike)."""
    return -A * u_ * u1 - u3


# KdV's linear part, domain, saved times, sampling of initial conditions, step and normalisation
# constant c (the L2 norm of u is conserved for any A, so the data have KdV's spread); the
# nonlinear part -A u u_x = -(A/2) d_x(u^2); the symmetries of KdV with the boost scaled by A,
# and KdV's controls (symmetries of neither).
KDV2 = pdes.register(
    dataclasses.replace(
        KDV,
        name="KdV2",
        formula="u_t + 2 u u_x + u_xxx = 0",
        rhs=kdv2_rhs,
        flux_scale=-A / 2,
        symmetries=(
            Symmetry("x-translation d_x", 1, 0, 0, "exact"),
            Symmetry("t-translation d_t", 0, 1, 0, "exact"),
            Symmetry("Galilean boost 2t d_x + d_u", A * t, 0, 1, "exact"),
            Symmetry("scaling x d_x + 3t d_t - 2u d_u", x, 3 * t, -2 * u, "broken_by_domain"),
            *KDV.symmetries_of(["control"]),
        ),
    )
)
