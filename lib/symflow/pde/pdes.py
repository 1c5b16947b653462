"""The five 1-D periodic PDEs of the paper, each one small `Equation` object, and their known symmetries.

Every equation is an evolution equation `u_t = F(t, u, u_x, u_xx, u_xxx, u_xxxx)` on `x in [0, L)`:

    KdV      u_t = -u u_x - u_xxx                      L=128, T=100
    KS       u_t = -u u_x - u_xx - u_xxxx              L=64,  T=100
    Burgers  u_t = -u u_x + nu u_xx, nu=0.01           L=2pi, T=18
    nKdV     u_t = -exp(t/50) (u u_x + u_xxx)          L=128, T=100
    cKdV     u_t = -u u_x - u_xxx - u / (2t + 2)       L=128, T=100

An `Equation` holds the physics (`rhs`, `residual`), the sampling of initial conditions, the parts
the solver needs (`linear` symbol, conservative `flux`, `decay`, `solver_time`, default `step`),
the map to the learner's normalised coordinates, and `symmetries`: Lie point symmetries
`xi d_x + tau d_t + phi d_u` as sympy expressions in the physical `x, t, u`, each with a kind:

    exact              a symmetry of the equation and of the periodic data set
    approximate        nearly a symmetry (cKdV's time translation: exact as t grows)
    broken_by_domain   a symmetry of the equation that the fixed periodic domain breaks (x-scalings)
    control            NOT a symmetry; used to show that tests and learners can tell

`symmetry_defect(equation, symmetry)` is the linearised symmetry condition, `0` exactly for a
symmetry (see its docstring); the tests prove every registered field with it.

The registry `EQUATIONS` (a mapping name -> Equation; `get(name)`, `names()`) holds the five and any
equation added with `register(Equation(...))`. Before it is listed or read, it imports the modules
named by `profiles.extra_modules()` (the environment variable SYMFLOW_EXTRA_MODULES, comma-separated,
and `profiles.EXTRA_MODULES`), once each, so that an equation registered in a module of one's own is
seen by `make data`, the notebooks and the tables without editing them: examples/my_equations.py.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Iterator, MutableMapping
from typing import Callable, Sequence

import sympy
import torch

from .. import profiles

# Physical coordinates of every symmetry expression.
x, t, u = sympy.symbols("x t u", real=True)

KINDS = ("exact", "approximate", "broken_by_domain", "control")


@dataclasses.dataclass(frozen=True)
class Symmetry:
    """The vector field `xi d_x + tau d_t + phi d_u`, sympy expressions in physical (x, t, u)."""

    name: str
    xi: sympy.Expr
    tau: sympy.Expr
    phi: sympy.Expr
    kind: str

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        for part in ("xi", "tau", "phi"):
            object.__setattr__(self, part, sympy.sympify(getattr(self, part)))


def _exp(z):
    """exp for sympy expressions and torch tensors/floats alike (lets one `rhs` serve both)."""
    if isinstance(z, sympy.Basic):
        return sympy.exp(z)
    return torch.exp(torch.as_tensor(z, dtype=torch.float64))


def _translations_and_boost() -> list[Symmetry]:
    """The exact symmetries KdV, KS and Burgers share: x- and t-translation, the Galilean boost."""
    return [
        Symmetry("x-translation d_x", 1, 0, 0, "exact"),
        Symmetry("t-translation d_t", 0, 1, 0, "exact"),
        Symmetry("Galilean boost t d_x + d_u", t, 0, 1, "exact"),
    ]


def _controls() -> list[Symmetry]:
    """Fields that are symmetries of none of the five equations."""
    return [
        Symmetry("u-shift d_u", 0, 0, 1, "control"),
        Symmetry("u-scaling u d_u", 0, 0, u, "control"),
        Symmetry("shear t d_x", t, 0, 0, "control"),
    ]


@dataclasses.dataclass(frozen=True)
class Equation:
    """One PDE `u_t = rhs(t, u, u_x, u_xx, u_xxx, u_xxxx)` with everything needed to simulate and learn it.

    name, formula   identity and a human-readable form
    L, T            periodic domain [0, L); saved times linspace(0, T, n_saved), of which the last
                    n_kept are kept
    c               the paper's normalisation constant: the learner sees c * u
    nu              viscosity (Burgers) or None
    rhs             F(t, u, u_x, u_xx, u_xxx, u_xxxx), works on sympy symbols and torch tensors
    n_sines, wavenumbers, amplitude
                    initial condition: sum of n_sines terms A sin(2 pi l x / L + phase) with
                    A ~ U(-amplitude, amplitude), l uniform in `wavenumbers`, phase ~ U(0, 2pi)
                    (Burgers: see `initial_condition`)
    method          "etdrk4" or "cole_hopf" (see symflow.pde.solvers)
    linear          k (wavenumber tensor) -> Fourier symbol of the stiff linear part, in solver time
    flux            u -> f(u) pointwise on a fresh tensor it may overwrite; the nonlinear part is
                    flux_scale d_x f(u) (dealiased in the solver)
    flux_scale      constant factor of the nonlinear part, kept out of `flux` so that the solver
                    folds it into its coefficients instead of multiplying at every stage
    decay           s -> coefficient g(s) of an extra term g(s) u, or None
    solver_time     t -> s, the time the solver integrates in (nKdV: tau = 50(exp(t/50) - 1))
    solver_time_formula
                    that map in words, recorded in the data files' attributes ("t": none)
    step            default solver step in solver time (chosen by bench/bench_solvers.py)
    max_step        largest step accepted (larger ones are unstable for this equation's data)
    oversample      the ETDRK4 solver works on an `oversample` times finer grid than the stored one
                    and stores every oversample-th point, so that its 2/3-rule dealiasing drops no
                    mode the stored grid can hold (docs/decisions.md D7 says why KdV and nKdV use 2)
    symmetries      tuple of Symmetry
    """

    name: str
    formula: str
    L: float
    T: float
    n_saved: int
    n_kept: int
    c: float
    rhs: Callable
    n_sines: int
    wavenumbers: tuple[int, ...]
    amplitude: float
    method: str
    step: float
    max_step: float
    symmetries: tuple[Symmetry, ...]
    linear: Callable | None = None
    flux: Callable | None = None
    flux_scale: float = 1.0
    decay: Callable | None = None
    solver_time: Callable = lambda t_: t_
    solver_time_formula: str = "t"
    nu: float | None = None
    oversample: int = 1

    def __post_init__(self):
        _positive_int(self.oversample, "oversample")

    # ---- physics -------------------------------------------------------------------------------
    def residual(self, u, u_t, u_x, u_xx, u_xxx, u_xxxx, t):
        """`u_t - F(t, u, u_x, ...)` in physical units (torch tensors broadcasting together)."""
        return u_t - self.rhs(t, u, u_x, u_xx, u_xxx, u_xxxx)

    @property
    def dt(self) -> float:
        """Spacing of the saved times."""
        return self.T / (self.n_saved - 1)

    def saved_times(self) -> torch.Tensor:
        """All saved times, (n_saved,) float64."""
        return torch.linspace(0.0, self.T, self.n_saved, dtype=torch.float64)

    def kept_times(self) -> torch.Tensor:
        """The kept window's times, (n_kept,) float64: the last n_kept saved times."""
        return self.saved_times()[-self.n_kept :]

    def grid(self, nx: int) -> torch.Tensor:
        """Grid points x_i = i L / nx, (nx,) float64."""
        return torch.arange(nx, dtype=torch.float64) * (self.L / nx)

    def initial_condition(self, n: int, generator: torch.Generator, nx: int = 256):
        """`n` random initial conditions on the `nx`-point grid.

        Returns (u0 (n, nx) float64, params) with params = dict(amplitude, phase, wavenumber), each
        (n, n_sines). Draws on the CPU from `generator`, so the same seed gives the same data on
        any device.
        KdV, KS, nKdV, cKdV: u0 = sum_j A_j sin(2 pi l_j x / L + phase_j).
        Burgers: psi0 = exp(f) with f = sum_j A_j sin(2 pi l_j x / L + phase_j), a positive
        periodic solution of the heat equation's initial value; u0 = -2 nu psi0_x / psi0 = -2 nu f_x
        (zero mean, periodic). With A ~ U(-0.5, 0.5), l in {1, 2, 3}, 20 sines, u has a standard
        deviation of about 0.04, the scale of the paper's normalisation constant 20.19.
        """
        n = _positive_int(n, "n")
        nx = _positive_int(nx, "nx")
        amp = (torch.rand(n, self.n_sines, generator=generator, dtype=torch.float64) * 2 - 1) * self.amplitude
        phase = torch.rand(n, self.n_sines, generator=generator, dtype=torch.float64) * 2 * math.pi
        choice = torch.randint(len(self.wavenumbers), (n, self.n_sines), generator=generator)
        wavenumber = torch.tensor(self.wavenumbers, dtype=torch.float64)[choice]
        k = 2 * math.pi * wavenumber / self.L  # (n, n_sines)
        arg = k[..., None] * self.grid(nx) + phase[..., None]  # (n, n_sines, nx)
        if self.method == "cole_hopf":
            u0 = -2 * self.nu * (amp[..., None] * k[..., None] * torch.cos(arg)).sum(1)
        else:
            u0 = (amp[..., None] * torch.sin(arg)).sum(1)
        return u0, {"amplitude": amp, "phase": phase, "wavenumber": wavenumber}

    # ---- normalised coordinates ----------------------------------------------------------------
    @property
    def scales(self) -> tuple[float, float, float]:
        """(L, Tw, 1/c): physical length of one normalised unit in x, t, u; Tw = n_kept * dt."""
        return self.L, self.n_kept * self.dt, 1.0 / self.c

    @property
    def t0(self) -> float:
        """First kept time: normalised time 0."""
        return float(self.kept_times()[0])

    def normalise(self, x_, t_, u_):
        """(x/L, (t - t0)/Tw, c u): the kept window's grid maps to [0, 1) in x and t."""
        Lx, Tw, _ = self.scales
        return x_ / Lx, (t_ - self.t0) / Tw, self.c * u_

    def denormalise(self, xn, tn, un):
        """Inverse of `normalise`."""
        Lx, Tw, _ = self.scales
        return xn * Lx, self.t0 + tn * Tw, un / self.c

    def normalised_field(self, symmetry: Symmetry) -> Callable[[torch.Tensor], torch.Tensor]:
        """`symmetry` in normalised coordinates: a callable z (n, 3) [x_n, t_n, u_n] -> V (n, 3).

        For the linear map z_n = A z + b with A = diag(1/L, 1/Tw, c), the pushed-forward field is
        V_n(z_n) = A V(z(z_n)) (chain rule).
        """
        parts = [_torch_function(e) for e in (symmetry.xi, symmetry.tau, symmetry.phi)]
        inv = [1.0 / s for s in self.scales]

        def field(z: torch.Tensor) -> torch.Tensor:
            if z.ndim != 2 or z.shape[-1] != 3:
                raise ValueError(f"z must have shape (n, 3); got {tuple(z.shape)}")
            xp, tp, up = self.denormalise(z[:, 0], z[:, 1], z[:, 2])
            return torch.stack([a * f(xp, tp, up) for a, f in zip(inv, parts)], dim=-1)

        return field

    def symmetries_of(self, kinds: Sequence[str] = ("exact",)) -> list[Symmetry]:
        """The registered symmetries whose kind is in `kinds`, in registry order."""
        for kind in kinds:
            if kind not in KINDS:
                raise ValueError(f"kinds must be drawn from {', '.join(KINDS)}; got {kind!r}")
        return [s for s in self.symmetries if s.kind in kinds]

    def known_fields(self, kinds: Sequence[str] = ("exact",)):
        """The symmetries of `kinds` in normalised coordinates, as one `generators.FunctionField`
        (n, 3) -> (n, 3, N), named after the symmetries."""
        from ..generators import FunctionField

        chosen = self.symmetries_of(kinds)
        if not chosen:
            raise ValueError(f"{self.name} has no symmetry of kinds {list(kinds)}")
        fields = [self.normalised_field(s) for s in chosen]

        def fn(z: torch.Tensor) -> torch.Tensor:
            return torch.stack([f(z) for f in fields], dim=-1)

        return FunctionField(fn, len(fields), 3, [s.name for s in chosen])


def _on_tensor(function: Callable) -> Callable:
    """`function` (a torch function) that also takes a number (sympy leaves constants such as
    sqrt(10) unevaluated, and lambdify passes them on as ints), as a float64 tensor."""
    return lambda z: function(z if isinstance(z, torch.Tensor) else torch.tensor(float(z), dtype=torch.float64))


def _torch_function(expr: sympy.Expr) -> Callable:
    """sympy expression in (x, t, u) -> torch function of three same-shape tensors."""
    functions = {name: _on_tensor(getattr(torch, name)) for name in ("exp", "log", "sqrt", "sin", "cos", "tanh")}
    f = sympy.lambdify((x, t, u), expr, modules=[functions, "math"])
    return lambda a, b, c: f(a, b, c) + torch.zeros_like(a)


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return value


# ---- the linearised symmetry condition ---------------------------------------------------------
_ORDER = 10  # jet order: F has order <= 4, so D_x^4 Q and D_x^4 F need order 8


def _jet():
    return sympy.symbols(f"u0:{_ORDER + 1}", real=True)


def _total_dx(expr, jet):
    """D_x = d_x + sum_k u_{k+1} d_{u_k}."""
    return sympy.diff(expr, x) + sum(jet[k + 1] * sympy.diff(expr, jet[k]) for k in range(_ORDER))


def symmetry_defect(equation: Equation, symmetry: Symmetry) -> sympy.Expr:
    """The linearised symmetry condition, simplified: exactly 0 iff `symmetry` is a Lie point symmetry.

    With the characteristic Q = phi - xi u_x - tau u_t (u_t = F on solutions), a field is a
    symmetry of u_t = F iff D_t Q - F'[u] Q = 0 on solutions, where
    F'[u] Q = sum_k (dF/du_k) D_x^k Q and D_t = d_t + sum_k D_x^k(F) d_{u_k} (Olver, Applications
    of Lie Groups to Differential Equations, ch. 5). Computed in jet variables u0 = u, u1 = u_x, ...
    """
    jet = _jet()
    on_jet = {u: jet[0]}
    F = equation.rhs(t, *jet[:5])
    Q = (symmetry.phi - symmetry.xi * jet[1] - symmetry.tau * F).subs(on_jet)
    DxF = [F]
    for _ in range(_ORDER - 4):
        DxF.append(_total_dx(DxF[-1], jet))
    DtQ = sympy.diff(Q, t) + sum(DxF[k] * sympy.diff(Q, jet[k]) for k in range(len(DxF)))
    DxQ = [Q]
    for _ in range(4):
        DxQ.append(_total_dx(DxQ[-1], jet))
    linearised = sum(sympy.diff(F, jet[k]) * DxQ[k] for k in range(5))
    return sympy.simplify(sympy.expand(DtQ - linearised))


# ---- the registry --------------------------------------------------------------------------------
def _etdrk4(linear, max_step: float) -> dict:
    """Equation settings of a PDE solved by ETDRK4 with the flux u^2 / 2 (KdV, KS, nKdV, cKdV)."""
    return dict(method="etdrk4", linear=linear, flux=_square, flux_scale=-0.5, step=0.005, max_step=max_step)


def _sines(**kw):
    return dict(n_sines=10, wavenumbers=(1, 2), amplitude=0.5, **kw)


def _on_kdv_domain(name: str, formula: str, c: float, rhs, symmetries, frames: int = 1, **kw) -> Equation:
    """An equation of the KdV family: KdV's domain (L = 128, T = 100, 250 saved times, the last 140
    kept; `frames` > 1 saves that many times as many, the same window at a `frames` times smaller
    spacing), ETDRK4 with KdV's linear part -u_xxx and flux u^2/2, and `_sines` initial conditions;
    `kw` sets the remaining fields (solver_time, decay, oversample)."""
    return Equation(
        name=name,
        formula=formula,
        L=128.0,
        T=100.0,
        n_saved=249 * frames + 1,
        n_kept=139 * frames + 1,
        c=c,
        rhs=rhs,
        symmetries=tuple(symmetries),
        **_etdrk4(_kdv_linear, max_step=0.1),
        **_sines(),
        **kw,
    )


def _kdv_rhs(t_, u_, u1, u2, u3, u4):
    return -u_ * u1 - u3


def _kdv_linear(k):
    return 1j * k**3  # -u_xxx -> -(ik)^3 = i k^3


def _ks_linear(k):
    return (k**2 - k**4).to(torch.complex128)  # -u_xx - u_xxxx


def _square(u_):
    return u_.square_()  # with flux_scale -1/2: -(u^2/2)_x = -u u_x


_TAU = 50 * (sympy.exp(t / 50) - 1)  # nKdV: u_tau + u u_x + u_xxx = 0 in tau(t)


class _Registry(MutableMapping):
    """The equations by name. Reading or listing it first imports the extra modules
    (`load_extra_modules`); `register` (or `EQUATIONS[name] = equation`) adds one."""

    def __init__(self, equations: dict[str, Equation]):
        self._equations = dict(equations)

    def __getitem__(self, name: str) -> Equation:
        load_extra_modules()
        return self._equations[name]

    def __setitem__(self, name: str, equation: Equation) -> None:
        if not isinstance(equation, Equation):
            raise TypeError(f"a registered equation must be a pdes.Equation; got {type(equation).__name__}")
        if name != equation.name:
            raise ValueError(f"an equation is registered under its own name {equation.name!r}; got {name!r}")
        self._equations[name] = equation

    def __delitem__(self, name: str) -> None:
        del self._equations[name]

    def __iter__(self) -> Iterator[str]:
        load_extra_modules()
        return iter(list(self._equations))

    def __len__(self) -> int:
        load_extra_modules()
        return len(self._equations)

    def __contains__(self, name) -> bool:
        load_extra_modules()
        return name in self._equations

    def __repr__(self) -> str:
        return f"EQUATIONS({', '.join(self._equations)})"


EQUATIONS: MutableMapping[str, Equation] = _Registry(
    {
        "KdV": _on_kdv_domain(
            "KdV",
            "u_t + u u_x + u_xxx = 0",
            0.3463,
            _kdv_rhs,
            [
                *_translations_and_boost(),
                Symmetry("scaling x d_x + 3t d_t - 2u d_u", x, 3 * t, -2 * u, "broken_by_domain"),
                *_controls(),
            ],
            oversample=2,
        ),
        "KS": Equation(
            name="KS",
            formula="u_t + u_xx + u_xxxx + u u_x = 0",
            L=64.0,
            T=100.0,
            n_saved=500,
            n_kept=140,
            c=0.2130,
            rhs=lambda t_, u_, u1, u2, u3, u4: -u_ * u1 - u2 - u4,
            **_etdrk4(_ks_linear, max_step=0.25),
            symmetries=(
                *_translations_and_boost(),
                *_controls(),
            ),
            **_sines(),
        ),
        "Burgers": Equation(
            name="Burgers",
            formula="u_t + u u_x = nu u_xx",
            L=2 * math.pi,
            T=18.0,
            n_saved=180,
            n_kept=140,
            c=20.19,
            nu=0.01,
            rhs=lambda t_, u_, u1, u2, u3, u4: -u_ * u1 + 0.01 * u2,
            method="cole_hopf",
            step=0.0,
            max_step=0.0,
            n_sines=20,
            wavenumbers=(1, 2, 3),
            amplitude=0.5,
            symmetries=(
                *_translations_and_boost(),
                Symmetry("scaling x d_x + 2t d_t - u d_u", x, 2 * t, -u, "broken_by_domain"),
                Symmetry("projective tx d_x + t^2 d_t + (x - tu) d_u", t * x, t**2, x - t * u, "broken_by_domain"),
                *_controls(),
            ),
        ),
        "nKdV": _on_kdv_domain(
            "nKdV",
            "u_t + exp(t/50) (u u_x + u_xxx) = 0",
            0.4345,
            lambda t_, u_, u1, u2, u3, u4: -_exp(t_ / 50) * (u_ * u1 + u3),
            [
                Symmetry("x-translation d_x", 1, 0, 0, "exact"),
                Symmetry("tau-translation exp(-t/50) d_t", 0, sympy.exp(-t / 50), 0, "exact"),
                Symmetry("Galilean boost tau d_x + d_u", _TAU, 0, 1, "exact"),
                Symmetry(
                    "scaling x d_x + 150(1 - exp(-t/50)) d_t - 2u d_u",
                    x,
                    150 * (1 - sympy.exp(-t / 50)),
                    -2 * u,
                    "broken_by_domain",
                ),
                Symmetry("t-translation d_t (KdV's, not nKdV's)", 0, 1, 0, "control"),
                *_controls(),
            ],
            solver_time=lambda t_: 50 * (math.exp(t_ / 50) - 1),
            solver_time_formula="tau = 50 (exp(t/50) - 1)",
            oversample=2,
            # nKdV runs exp(t/50) <= 7.4 times faster than KdV at the window's end: at KdV's frame
            # spacing the time derivative between saved frames dominates its residual (docs/decisions.md D8)
            frames=2,
        ),
        "cKdV": _on_kdv_domain(
            "cKdV",
            "u_t + u u_x + u_xxx + u / (2t + 2) = 0",
            3.6310,
            lambda t_, u_, u1, u2, u3, u4: -u_ * u1 - u3 - u_ / (2 * t_ + 2),
            [
                Symmetry("x-translation d_x", 1, 0, 0, "exact"),
                Symmetry(
                    "cylindrical boost 2 sqrt(t+1) d_x + d_u / sqrt(t+1)",
                    2 * sympy.sqrt(t + 1),
                    0,
                    1 / sympy.sqrt(t + 1),
                    "exact",
                ),
                Symmetry("scaling x d_x + 3(t+1) d_t - 2u d_u", x, 3 * (t + 1), -2 * u, "broken_by_domain"),
                Symmetry("t-translation d_t", 0, 1, 0, "approximate"),
                *_controls(),
            ],
            decay=lambda s: -1.0 / (2 * s + 2),
        ),
    }
)

_imported: set[str] = set()  # extra modules imported so far
_loading = False  # an extra module is being imported (it may read the registry)


def load_extra_modules() -> tuple[str, ...]:
    """Import each module of `profiles.extra_modules()` not imported yet (importlib.import_module,
    once per name) and return the names imported by now. A module that fails to import is an
    ImportError naming it and where it was listed; it is tried again at the next use."""
    global _loading
    if _loading:
        return tuple(_imported)
    todo = [name for name in profiles.extra_modules() if name not in _imported]
    if todo:
        _loading = True
        try:
            for name in todo:
                try:
                    importlib.import_module(name)
                except Exception as err:
                    where = (
                        "profiles.EXTRA_MODULES"
                        if name in profiles.EXTRA_MODULES
                        else f"the environment variable {profiles.ENV_EXTRA_MODULES}"
                    )
                    raise ImportError(
                        f"could not import the extra equation module {name!r} (listed in {where}): "
                        f"{type(err).__name__}: {err} (is its folder on the Python path, PYTHONPATH?)",
                        name=name,
                    ) from err
                _imported.add(name)
        finally:
            _loading = False
    return tuple(_imported)


def register(equation: Equation, replace: bool = False) -> Equation:
    """Add `equation` to `EQUATIONS` under `equation.name` and return it. A name already registered
    is a ValueError unless `replace` (the same object again is accepted: re-importing is harmless)."""
    if not isinstance(equation, Equation):
        raise TypeError(f"register takes a pdes.Equation; got {type(equation).__name__}")
    known = EQUATIONS._equations  # not through the mapping: no extra-module import from here
    if equation.name in known and known[equation.name] is not equation and not replace:
        raise ValueError(
            f"an equation called {equation.name!r} is already registered (pass replace=True to replace it)"
        )
    EQUATIONS[equation.name] = equation
    return equation


def names() -> tuple[str, ...]:
    """The names of the registered equations: the five, then those of the extra modules."""
    return tuple(EQUATIONS)


def get(name: str) -> Equation:
    """The registered equation called `name` (one of `names()`, extra modules imported first)."""
    if name not in EQUATIONS:
        raise ValueError(f"equation must be one of {', '.join(EQUATIONS)}; got {name!r}")
    return EQUATIONS[name]
