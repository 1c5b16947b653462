"""Data generation for the PDEs of `symflow.pde.pdes`: batched pseudo-spectral solvers writing xarray Datasets.

    python -m symflow.pde.solvers --profile quick        # what `make data` runs
    python -m symflow.pde.solvers --profile smoke --equations KdV2   # one registered equation
    python -m symflow.pde.solvers --profile quick --headroom         # then the validity headroom table

Two solvers, both torch float64, batched over trajectories and device-agnostic:

* `etdrk4` (KdV, KS, nKdV, cKdV): u_t = L u + N(u, s) with the stiff linear part diagonal in
  Fourier space, L = `equation.linear(k)`, and N = flux_scale d_x flux(u) + decay(s) u,
  trajectories packed in pairs into complex signals so one FFT serves two (`SpectralParts`). Fourth-order
  exponential time differencing (Cox & Matthews 2002) with the coefficients computed by contour
  integrals (Kassam & Trefethen 2005, SIAM J. Sci. Comput. 26:1214), 2/3-rule dealiasing of
  d_x flux. Fixed step, shortened to land exactly on every saved time. nKdV is integrated as KdV
  in its own time tau = 50 (exp(t/50) - 1) (`equation.solver_time`, recorded in the files'
  attribute solver_time as `equation.solver_time_formula`). An equation with
  `oversample` m > 1 (KdV, nKdV) is solved on an m-times finer grid and stored on every m-th
  point, so that the 2/3 rule removes none of the modes the stored grid holds.
* `cole_hopf` (Burgers): u = -2 nu psi_x / psi with psi solving the heat equation psi_t = nu psi_xx,
  which is solved exactly in Fourier space, psi_k(t) = psi_k(0) exp(-nu k^2 t); psi(0) is positive
  and periodic (see `pdes.Equation.initial_condition`). Exact up to round-off.

`dataset(equation, split, profile)` loads `data/<profile>/<Equation>_<split>.nc` when its
attributes match the request and generates it (atomically) otherwise; the files follow CF-1.10
(global attributes Conventions, title, history, source, references; UDUNITS units and a long_name
on every variable). `trajectories(equation, profile, n)` solves a few trajectories with a
profile's settings without storing them, and `reference_error` checks saved rows against an
independent re-solve of the equation (scipy's DOP853 on its plain pseudo-spectral right-hand side).
"""

from __future__ import annotations

import argparse
import datetime
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from .. import __version__, io, profiles
from . import derivatives, pde_graphs, pdes

SPLITS = ("train", "valid", "test")
CONTOUR_POINTS = 64
BLOW_UP = 1e6  # |u| above this counts as an overflow
BATCH = 1024  # trajectories solved together (bounds memory)


class BlowUpError(FloatingPointError):
    """A trajectory became NaN/inf or overflowed; `index` is its position in the batch."""

    def __init__(self, message: str, index: int):
        super().__init__(message)
        self.index = index


def wavenumbers(nx: int, L: float, device=None) -> torch.Tensor:
    """Angular wavenumbers of `torch.fft.rfft` on an nx-point grid of length L, (nx//2 + 1,) float64."""
    return 2 * math.pi / L * torch.arange(nx // 2 + 1, dtype=torch.float64, device=device)


def check_grid(nx) -> int:
    """Return nx if the solvers can use it: an even integer >= 16."""
    if isinstance(nx, bool) or not isinstance(nx, int) or nx < 16 or nx % 2:
        raise ValueError(f"nx must be an even integer >= 16; got {nx!r}")
    return nx


def etdrk4_coefficients(lh: torch.Tensor, h: float, m: int = CONTOUR_POINTS):
    """ETDRK4 coefficients for z = h L (complex, any shape): E, E2, Q, f1, f2, f3.

    E = e^z, E2 = e^(z/2), Q = h (e^(z/2) - 1)/z,
    f1 = h (-4 - z + e^z (4 - 3z + z^2))/z^3, f2 = h (2 + z + e^z (z - 2))/z^3,
    f3 = h (-4 - 3z - z^2 + e^z (4 - z))/z^3,
    each evaluated as the mean over m points of the unit circle around z (Cauchy's integral
    formula), which avoids the cancellation of the direct formulas for small |z|.
    """
    r = torch.exp(2j * math.pi * (torch.arange(m, dtype=torch.float64, device=lh.device) + 0.5) / m)
    z = lh[..., None] + r
    ez, ez2 = torch.exp(z), torch.exp(z / 2)
    q = h * ((ez2 - 1) / z).mean(-1)
    f1 = h * ((-4 - z + ez * (4 - 3 * z + z**2)) / z**3).mean(-1)
    f2 = h * ((2 + z + ez * (z - 2)) / z**3).mean(-1)
    f3 = h * ((-4 - 3 * z - z**2 + ez * (4 - z)) / z**3).mean(-1)
    return torch.exp(lh), torch.exp(lh / 2), q, f1, f2, f3


def pack(u: torch.Tensor) -> torch.Tensor:
    """Real (B, nx) -> complex (ceil(B/2), nx): z = u[0::2] + i u[1::2], a zero row added when B is odd."""
    if u.shape[0] % 2:
        u = torch.cat([u, torch.zeros_like(u[:1])])
    return torch.complex(u[0::2], u[1::2])


def unpack(z: torch.Tensor, batch: int) -> torch.Tensor:
    """Inverse of `pack`: complex (P, nx) -> real (batch, nx), rows from z.real and z.imag in turn."""
    return torch.view_as_real(z).transpose(1, 2).reshape(-1, z.shape[-1])[:batch]


class SpectralParts:
    """The Fourier-space pieces of an ETDRK4 equation on an nx grid: L(k) and dealiased N(v, s).

    Spectra are full complex FFTs, shape (P, nx), of trajectories packed in pairs (`pack`): the
    symbols satisfy L(-k) = conj L(k), so they map the spectrum of a real signal to one, and one
    complex FFT transforms two real trajectories (the pointwise flux acts on the real and imaginary
    parts separately). At the Nyquist mode, its own partner, L is replaced by its real part.

    N(v, s) = D FFT[flux(u)] + decay(s) v with D = flux_scale ik on the modes kept by the 2/3 rule
    (`derivative`). Without a decay term the step folds D into its coefficients (`fold`) and only
    needs `stage(v)` = `flux_hat(v)`, one multiply fewer per stage; with one, `fold` is 1 and
    `stage` is `nonlinear`.
    """

    def __init__(self, equation: pdes.Equation, nx: int, device="cpu"):
        self.equation, self.nx = equation, check_grid(nx)
        index = torch.fft.fftfreq(nx, 1 / nx, dtype=torch.float64, device=device)
        k = 2 * math.pi / equation.L * index
        linear = equation.linear(k).to(torch.complex128)
        linear[nx // 2] = linear[nx // 2].real.clone()
        self.linear = linear
        self.derivative = equation.flux_scale * 1j * k * (index.abs() <= nx // 3)  # 2/3 rule
        self.fold = self.derivative if equation.decay is None else 1
        self.stage = self.flux_hat if equation.decay is None else self.nonlinear

    def flux_hat(self, v: torch.Tensor, s: float = 0.0) -> torch.Tensor:
        """FFT[flux(u)] for the packed spectra v (P, nx) (s, the solver time, is not used)."""
        u = torch.view_as_real(torch.fft.ifft(v))
        return torch.fft.fft(torch.view_as_complex(self.equation.flux(u)))

    def nonlinear(self, v: torch.Tensor, s: float) -> torch.Tensor:
        """N(v, s) = D FFT[flux(u)] + decay(s) v for the packed spectra v (P, nx)."""
        out = self.derivative * self.flux_hat(v)
        if self.equation.decay is not None:
            out = out + self.equation.decay(s) * v
        return out

    def rhs(self, s, u: torch.Tensor) -> torch.Tensor:
        """du/ds in physical space, (B, nx) -> (B, nx): the method-of-lines ODE (for dopri5)."""
        v = torch.fft.fft(pack(u))
        return unpack(torch.fft.ifft(self.linear * v + self.nonlinear(v, float(s))), u.shape[0])


def _solver_times(equation: pdes.Equation, times) -> list[float]:
    times = [float(tt) for tt in times]
    if not times or times[0] < 0 or any(b <= a for a, b in zip(times, times[1:])):
        raise ValueError(f"times must be a non-empty increasing sequence of values >= 0; got {times[:5]}...")
    return [equation.solver_time(tt) for tt in times]


def _check_finite(u: torch.Tensor, when: float):
    bad = ~torch.isfinite(u).all(-1) | (u.abs().amax(-1) > BLOW_UP)
    if bad.any():
        i = int(bad.nonzero()[0, 0])
        raise BlowUpError(f"trajectory {i} blew up (NaN, inf or |u| > {BLOW_UP:g}) by t = {when:g}", i)


def check_step(equation: pdes.Equation, step) -> float:
    """Return `step` if it lies in (0, max_step] for `equation`, else raise a ValueError."""
    if not isinstance(step, (int, float)) or isinstance(step, bool) or not 0 < step <= equation.max_step:
        raise ValueError(
            f"step must be in (0, {equation.max_step:g}] for {equation.name} (larger steps are unstable); got {step!r}"
        )
    return float(step)


def _etdrk4_coefficients_folded(parts: SpectralParts, h: float) -> tuple:
    """(E, E2, Q, G, Q2, f1, f2x2, f3) of `_etdrk4_step` for step h, with `parts.fold` folded in:
    G = (E2 - 1) Q and Q2 = 2 Q, so that c = E v + G N(v) + Q2 N(b) needs no E2 a."""
    E, E2, Q, f1, f2, f3 = etdrk4_coefficients(h * parts.linear, h)
    D = parts.fold
    return E, E2, D * Q, D * (E2 - 1) * Q, D * 2 * Q, D * f1, D * 2 * f2, D * f3


def _etdrk4_step(v, s, h, N, E, E2, Q, G, Q2, f1, f2x2, f3):
    """One ETDRK4 step (Cox & Matthews 2002), v (P, nx) at solver time s -> v at s + h.

    a = E2 v + Q N(v), b = E2 v + Q N(a), c = E2 a + Q (2 N(b) - N(v)) = E v + G N(v) + Q2 N(b),
    v+ = E v + f1 N(v) + 2 f2 (N(a) + N(b)) + f3 N(c); fused multiply-adds keep the op count low.
    N may be any factor of the nonlinear term whose cofactor is folded into the coefficients.
    """
    e2v = E2 * v
    nv = N(v, s)
    na = N(torch.addcmul(e2v, Q, nv), s + h / 2)
    nb = N(e2v.addcmul_(Q, na), s + h / 2)
    ev = E * v
    nc = N(torch.addcmul(ev, G, nv).addcmul_(Q2, nb), s + h)
    out = ev.addcmul_(f1, nv)
    return out.addcmul_(f2x2, na.add_(nb)).addcmul_(f3, nc)


def refine_grid(u: torch.Tensor, factor: int) -> torch.Tensor:
    """The trigonometric interpolant of periodic rows u (..., nx) on a `factor` times finer grid,
    (..., factor * nx): the spectrum zero-padded (the Nyquist coefficient of an even nx split
    between +-nx/2), so out[..., factor * i] = u[..., i]; factor 1 returns u."""
    factor = pdes._positive_int(factor, "factor")
    return u if factor == 1 else pde_graphs.upsample_periodic(u, factor)


def check_oversample(oversample) -> int:
    """Return `oversample` if it is a positive integer, else raise a ValueError."""
    return pdes._positive_int(oversample, "oversample")


def _solve_etdrk4(equation: pdes.Equation, u0: torch.Tensor, times, step: float | None, progress, m: int):
    """ETDRK4 from u0 (B, nx) at t=0 to u at `times`, (B, len(times), nx); see `solve`.

    Each interval between requested times (in solver time s) is crossed in ceil(ds/step) equal
    steps; coefficients (with `parts.fold` folded in) are cached per step length. With m > 1 the
    solver works on the m-times finer grid (u0 refined by `refine_grid`, exact for band-limited u0)
    and returns every m-th point, so that the 2/3 rule on the fine grid keeps every mode of the
    returned one. The steps run without autograd: the result carries no gradient.
    """
    step = check_step(equation, equation.step if step is None else step)
    nx = check_grid(u0.shape[-1])
    parts = SpectralParts(equation, m * nx, u0.device)
    out = torch.empty(u0.shape[0], len(times), nx, dtype=torch.float64, device=u0.device)
    cache: dict[float, tuple] = {}
    v, s, N = torch.fft.fft(pack(refine_grid(u0.to(torch.float64), m))), 0.0, parts.stage
    for j, target in enumerate(_solver_times(equation, times)):
        n = math.ceil((target - s) / step - 1e-9)
        if n > 0:
            h = (target - s) / n
            key = round(h, 14)
            if key not in cache:
                cache[key] = _etdrk4_coefficients_folded(parts, h)
            coefficients = cache[key]
            with torch.inference_mode():  # no autograd bookkeeping on the many small ops (8% here)
                for i in range(n):
                    v = _etdrk4_step(v, s + i * h, h, N, *coefficients)
            s = target
        out[:, j] = unpack(torch.fft.ifft(v), u0.shape[0])[:, ::m]
        _check_finite(out[:, j], float(times[j]))
        if progress is not None:
            progress(1)
    return out


def solve_cole_hopf(equation: pdes.Equation, u0: torch.Tensor, times, progress=None) -> torch.Tensor:
    """Viscous Burgers exactly: u0 (B, nx), zero mean -> u at `times`, (B, len(times), nx).

    psi0 = exp(-F/(2 nu)) with F the periodic antiderivative of u0 (spectral), psi_k(t) =
    psi_k(0) exp(-nu k^2 t), u = -2 nu psi_x / psi.
    """
    nx, nu = check_grid(u0.shape[-1]), equation.nu
    k = wavenumbers(nx, equation.L, u0.device)
    u_hat = torch.fft.rfft(u0.to(torch.float64))
    mean = u_hat[:, 0].real / nx
    if mean.abs().max() > 1e-10 * (1 + u0.abs().max()):
        raise ValueError(
            f"u0 must have zero mean for the Cole-Hopf solver (a periodic psi); got mean up to {mean.abs().max():.3g}"
        )
    k_safe = torch.where(k > 0, k, torch.ones_like(k))
    F = torch.fft.irfft(torch.where(k > 0, u_hat / (1j * k_safe), 0), n=nx)
    log_psi = -F / (2 * nu)
    psi_hat = torch.fft.rfft(torch.exp(log_psi - log_psi.amax(-1, keepdim=True)))
    out = torch.empty(u0.shape[0], len(times), nx, dtype=torch.float64, device=u0.device)
    for j, tt in enumerate(_solver_times(equation, times)):
        p_hat = psi_hat * torch.exp(-nu * k**2 * tt)
        out[:, j] = -2 * nu * torch.fft.irfft(1j * k * p_hat, n=nx) / torch.fft.irfft(p_hat, n=nx)
        _check_finite(out[:, j], float(tt))
        if progress is not None:
            progress(1)
    return out


def solve(
    equation: pdes.Equation,
    u0: torch.Tensor,
    times,
    step: float | None = None,
    progress=None,
    oversample: int = 1,
) -> torch.Tensor:
    """u0 (B, nx) at t=0 -> u (B, len(times), nx) at the physical `times`, by the equation's method:
    the exact Cole-Hopf solution (`solve_cole_hopf`) or ETDRK4 with `step` in solver time (None:
    the equation's own step). `oversample` m > 1 makes ETDRK4 work on the m-times finer grid and
    return every m-th point (the exact solution needs none and ignores it). `progress(n)` is
    called after each time. A step, grid or oversample that is not accepted is a ValueError naming
    it; a trajectory that blows up is a BlowUpError naming it and the time."""
    m = check_oversample(oversample)
    if equation.method == "cole_hopf":
        return solve_cole_hopf(equation, u0, times, progress)
    return _solve_etdrk4(equation, u0, times, step, progress, m)


def spectral_derivatives(u: torch.Tensor, L: float, order: int = 4) -> list[torch.Tensor]:
    """[u, u_x, ..., d^order u / dx^order] of a periodic u (..., nx) on [0, L), by FFT."""
    return [u] + [derivatives.periodic_derivative(u, L, n) for n in range(1, order + 1)]


def residual_on_grid(equation: pdes.Equation, u: torch.Tensor, times) -> torch.Tensor:
    """The PDE residual of gridded data: u (B, T, nx) at uniform `times` (T >= 5) -> (B, T-4, nx).

    x-derivatives spectral; u_t by fourth-order central differences
    (u[j-2] - 8 u[j-1] + 8 u[j+1] - u[j+2]) / (12 dt), so the residual is at times[2:-2].
    """
    times = torch.as_tensor(times, dtype=torch.float64)
    if u.ndim != 3 or u.shape[1] != len(times) or len(times) < 5:
        raise ValueError(f"u must have shape (B, T, nx) with T = len(times) >= 5; got {tuple(u.shape)}")
    dt = float(times[1] - times[0])
    u_t = (u[:, :-4] - 8 * u[:, 1:-3] + 8 * u[:, 3:-1] - u[:, 4:]) / (12 * dt)
    derivs = spectral_derivatives(u[:, 2:-2], equation.L)
    return equation.residual(derivs[0], u_t, *derivs[1:], times[2:-2, None].to(u.device))


def reference_error(
    equation: pdes.Equation,
    u,
    times,
    start: int = 0,
    intervals: int = 5,
    refine: int | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> np.ndarray:
    """How far saved rows are from an independent re-solve of the PDE: one relative error per trajectory.

    u (B, T, nx) saved at the physical `times` (T,). Row `start` is refined to refine * nx points
    (`refine_grid`; refine None: 1 when every row's spectrum beyond 2/3 of the grid's Nyquist
    wavenumber is below 1e-10 of its peak, i.e. the saved grid resolves the solution, else 2)
    and integrated with scipy's DOP853 (rtol, atol) on the method-of-lines ODE
    u_t = equation.rhs(t, u, u_x, u_xx, u_xxx, u_xxxx), derivatives by FFT on the refined grid,
    not dealiased (none of the ETDRK4 solver's pieces: no linear symbol, flux, dealiasing, solver
    time or oversampling), in physical time to times[start + 1 .. start + intervals]. Returns (B,):
    max |u_ref - u| over those rows and the saved points / max |u| over rows start .. start + intervals.
    Raises ValueError for a u that is not (B, T, nx), a window outside the T rows, or refine < 1.
    """
    from scipy.integrate import solve_ivp

    u = np.asarray(u, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64)
    if u.ndim != 3 or u.shape[1] != len(times):
        raise ValueError(f"u must have shape (B, T, nx) with T = len(times) = {len(times)}; got {u.shape}")
    if isinstance(intervals, bool) or not isinstance(intervals, int) or intervals < 1:
        raise ValueError(f"intervals must be a positive integer; got {intervals!r}")
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= len(times) - 1 - intervals:
        raise ValueError(
            f"start must be an integer in [0, {len(times) - 1 - intervals}] for {intervals} intervals; got {start!r}"
        )
    b, _, nx = u.shape
    if refine is None:
        spectrum = np.abs(np.fft.rfft(u[:, start : start + 1 + intervals], axis=-1))
        refine = 1 if spectrum[..., nx // 3 :].max() <= 1e-10 * spectrum.max() else 2
    m = pdes._positive_int(refine, "refine") * check_grid(nx)
    k = 2 * math.pi / equation.L * np.arange(m // 2 + 1)
    symbols = [(1j * k) ** n for n in range(1, 5)]
    for n in (0, 2):  # odd derivatives of the Nyquist mode are not real: dropped
        symbols[n][-1] = 0

    def rhs(t, y):
        v = y.reshape(b, m)
        v_hat = np.fft.rfft(v, axis=-1)
        jet = [torch.from_numpy(v)] + [torch.from_numpy(np.fft.irfft(d * v_hat, n=m, axis=-1)) for d in symbols]
        return torch.as_tensor(equation.rhs(t, *jet), dtype=torch.float64).numpy().reshape(-1)

    first = refine_grid(torch.from_numpy(u[:, start]), refine).numpy()
    window = times[start + 1 : start + 1 + intervals]
    sol = solve_ivp(rhs, (times[start], window[-1]), first.reshape(-1), "DOP853", window, rtol=rtol, atol=atol)
    if not sol.success:
        raise FloatingPointError(f"the reference re-solve of {equation.name} failed: {sol.message}")
    ref = sol.y.T.reshape(intervals, b, m)[..., ::refine].transpose(1, 0, 2)
    saved = u[:, start + 1 : start + 1 + intervals]
    scale = np.abs(u[:, start : start + 1 + intervals]).max(axis=(1, 2))
    return np.abs(ref - saved).max(axis=(1, 2)) / scale


# ---- data sets -------------------------------------------------------------------------------------
def solver_description(equation: pdes.Equation) -> str:
    if equation.method == "cole_hopf":
        return "exact Fourier solution of psi_t = nu psi_xx, Cole-Hopf u = -2 nu psi_x / psi"
    return f"ETDRK4 (Kassam-Trefethen, {CONTOUR_POINTS}-point contour), 2/3 dealiasing, pseudo-spectral, float64"


def solver_oversample(equation: pdes.Equation) -> int:
    """The grid refinement the data of `equation` are solved with: `Equation.oversample` for
    ETDRK4, 1 for the exact Cole-Hopf solution."""
    return 1 if equation.method == "cole_hopf" else check_oversample(equation.oversample)


def request_attributes(
    equation: pdes.Equation, split: str, n_samples: int, nx: int, seed: int, step: float | None = None
) -> dict:
    """Every parameter that determines a data file's content (what a reused file must match)."""
    attrs = {
        "equation": equation.name,
        "formula": equation.formula,
        "split": split,
        "n_samples": n_samples,
        "nx": nx,
        "L": equation.L,
        "T": equation.T,
        "n_saved": equation.n_saved,
        "n_kept": equation.n_kept,
        "t_first_kept": equation.t0,
        "seed": seed,
        "solver": solver_description(equation),
        "step": float(equation.step if step is None else step) if equation.method == "etdrk4" else 0.0,
        "solver_nx": nx * solver_oversample(equation),
        "solver_time": equation.solver_time_formula,
        "ic_n_sines": equation.n_sines,
        "ic_wavenumbers": list(equation.wavenumbers),
        "ic_amplitude": equation.amplitude,
        "ic": (
            "psi0 = exp(sum A sin(2 pi l x / L + phase)), u0 = -2 nu psi0_x / psi0"
            if equation.method == "cole_hopf"
            else "u0 = sum A sin(2 pi l x / L + phase)"
        )
        + ", A ~ U(-amplitude, amplitude), l uniform in ic_wavenumbers, phase ~ U(0, 2 pi)",
        "normalisation_c": equation.c,
        "dtype": "float64",
    }
    if equation.nu is not None:
        attrs["nu"] = equation.nu
    return attrs


CONVENTIONS = "CF-1.10"
REFERENCES = (
    "Data generation as in LPSDA: J. Brandstetter, M. Welling, D. E. Worrall, Lie point symmetry data "
    "augmentation for neural PDE solvers, ICML 2022, arXiv:2202.07643. "
    "The paper reproduced: G. Ko, H. Kim, J. Lee, Learning infinitesimal generators of continuous "
    "symmetries from data, NeurIPS 2024, arXiv:2410.21853."
)
# Attributes that describe a file rather than determine its content: a reused file is compared on
# `request_attributes` only, never on these; they are also left out of its fingerprint.
DESCRIPTIVE_ATTRIBUTES = io.DESCRIPTIVE_ATTRIBUTES


def command_line() -> str:
    """The command line of this process as one would type it: `python -m symflow.pde.solvers --profile
    quick` for the data generator, `python <script> ...` otherwise (a notebook's kernel shows as
    `python -m ipykernel_launcher ...`)."""
    argv = list(sys.argv) or [""]
    first = Path(argv[0])
    if first.name == "solvers.py" and first.parent.name == "pde" and first.parent.parent.name == "symflow":
        head = ["-m", "symflow.pde.solvers"]
    elif first.name == "__main__.py":
        head = ["-m", first.parent.name]
    elif first.suffix == ".py" and first.stem.endswith("_launcher"):
        head = ["-m", first.stem]
    else:
        head = [argv[0]] if argv[0] else []
    return shlex.join(["python", *head, *argv[1:]])


def descriptive_attributes(equation: pdes.Equation, split: str, call: str, created_utc: str) -> dict:
    """CF-1.10 global attributes of a data file: Conventions, title, history (one line: the time,
    `call` and `command_line()`), source (solver, symflow version and commit, torch version) and
    references (LPSDA and the paper)."""
    return {
        "Conventions": CONVENTIONS,
        "title": f"{equation.name} solutions ({equation.formula}), {split} split",
        "history": f"{created_utc}: {call}, run by `{command_line()}`",
        "source": f"symflow {__version__} (commit {io.git_commit()}), symflow.pde.solvers: "
        f"{solver_description(equation)}; torch {torch.__version__}",
        "references": REFERENCES,
    }


def generate(
    equation: pdes.Equation,
    split: str,
    n_samples: int,
    nx: int,
    seed: int,
    step: float | None = None,
    device="cpu",
    batch: int = BATCH,
    progress=None,
    call: str | None = None,
) -> xr.Dataset:
    """Sample `n_samples` initial conditions with `seed`, solve, and return the kept window.

    Dataset: u (sample, t, x) float64 and the initial conditions' amplitude/phase/wavenumber
    (sample, mode); coordinates in physical units, every variable and coordinate with a
    `long_name` and a UDUNITS `units` ("1" for nondimensional quantities, "radian" for phases);
    attributes: `request_attributes`, CF-1.10's global attributes (`descriptive_attributes`, the
    history naming `call`, by default this function's own call), wall time, device and creation time.
    """
    n_samples = pdes._positive_int(n_samples, "n_samples")
    check_grid(nx)
    attrs = request_attributes(equation, split, n_samples, nx, seed, step)
    if call is None:
        call = (
            f"symflow.pde.solvers.generate({equation.name!r}, {split!r}, n_samples={n_samples}, nx={nx}, "
            f"seed={seed}, step={step!r})"
        )
    start = time.perf_counter()
    u0, params = equation.initial_condition(n_samples, torch.Generator().manual_seed(seed), nx)
    times = equation.kept_times()
    chunks = []
    for lo in range(0, n_samples, batch):
        try:
            u_chunk = u0[lo : lo + batch].to(device)
            chunks.append(solve(equation, u_chunk, times, step, progress, solver_oversample(equation)).cpu())
        except BlowUpError as err:
            i = lo + err.index
            detail = ", ".join(f"{k}={v[i].tolist()}" for k, v in params.items())
            raise BlowUpError(
                f"{equation.name} {split} sample {i} (seed {seed}): {err}; initial condition {detail}", i
            ) from None
    u = torch.cat(chunks).numpy()
    attrs["generation_wall_time_s"] = round(time.perf_counter() - start, 3)
    attrs["device"] = io.device_description(str(device))
    attrs["created_utc"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    attrs = {**descriptive_attributes(equation, split, call, attrs["created_utc"]), **attrs}
    mode = ("sample", "mode")
    of_ic = "of each sine of the initial condition" + (" (of log psi0)" if equation.method == "cole_hopf" else "")
    return xr.Dataset(
        {
            "u": (("sample", "t", "x"), u, {"long_name": "solution u(x, t)", "units": "1"}),
            "amplitude": (mode, params["amplitude"].numpy(), {"long_name": f"amplitude A {of_ic}", "units": "1"}),
            "phase": (mode, params["phase"].numpy(), {"long_name": f"phase {of_ic}", "units": "radian"}),
            "wavenumber": (
                mode,
                params["wavenumber"].numpy().astype(np.int64),
                {"long_name": f"periods l over the domain {of_ic}", "units": "1"},
            ),
        },
        coords={
            "sample": ("sample", np.arange(n_samples), {"long_name": "trajectory index", "units": "1"}),
            "t": ("t", times.numpy(), {"long_name": "time", "units": "1", "axis": "T"}),
            "x": ("x", equation.grid(nx).numpy(), {"long_name": "space", "units": "1", "axis": "X"}),
        },
        attrs=attrs,
    )


def data_path(equation_name: str, split: str, profile: str, root=None) -> Path:
    """`data/<profile>/<Equation>_<split>.nc`."""
    return Path(io.DATA if root is None else root) / profile / f"{equation_name}_{split}.nc"


def _mismatches(found: dict, wanted: dict) -> list[str]:
    out = []
    for key, value in wanted.items():
        have = found.get(key)
        same = (
            have == value
            if isinstance(value, str)
            else (have is not None and np.array_equal(np.asarray(have), np.asarray(value)))
        )
        if not same:
            have = np.asarray(have).tolist() if have is not None else None
            out.append(f"{key}: file {have!r}, requested {value!r}")
    return out


def split_parameters(profile: str, split: str, equation: pdes.Equation) -> dict:
    """n_samples, nx, seed and step of a split at a profile (from profiles 'pde_data'). The step is
    the profile's for the equation's name, or the equation's default step when the profile has
    none for it (an equation registered by an extra module, or step None)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    p = profiles.get(profile, "pde_data")
    step = (p["step"] or {}).get(equation.name)
    return {
        "n_samples": p["sizes"][split],
        "nx": p["nx"],
        "seed": p["seeds"][split],
        "step": equation.step if step is None else step,
    }


def dataset(
    equation, split: str, profile: str, device="cpu", root=None, progress=None, headroom: bool = False
) -> xr.Dataset:
    """The data set of `equation` (name or Equation) for `split` at `profile`, loaded or generated.

    A file whose `request_attributes` match the request is loaded (the `DESCRIPTIVE_ATTRIBUTES`,
    such as the history, are not compared); a missing file is generated and written
    atomically; a file under the same name with other parameters raises a ValueError (delete it
    or use another profile), it is never silently reused or overwritten. So does a file that
    cannot be read (truncated, damaged) or whose `u` holds NaN or inf, naming the file.
    headroom: also score the data's validity headroom (`symflow.pde.headroom.headroom` with the
    profile's evaluation settings; it warns when the data cannot separate symmetries from the
    controls) and return it as the attributes validity_floor, validity_best_control, validity_gap.
    """
    equation = pdes.get(equation) if isinstance(equation, str) else equation
    params = split_parameters(profile, split, equation)
    path = data_path(equation.name, split, profile, root)
    wanted = request_attributes(equation, split, **params)
    if path.exists():
        remedy = (
            f"delete it and run `python -m symflow.pde.solvers --profile {profile}` (make data) to generate it again"
        )
        ds = io.read_netcdf(io.note_input(path), remedy)
        bad = _mismatches(ds.attrs, wanted)
        if bad:
            raise ValueError(
                f"{path} was generated with other parameters ({'; '.join(bad)}); delete it or choose another profile"
            )
        finite = np.isfinite(ds["u"].values)
        if not finite.all():
            first = tuple(int(i[0]) for i in np.nonzero(~finite))
            raise ValueError(
                f"{path}: array 'u' holds {int((~finite).sum())} NaN or infinite values (the first at index "
                f"(sample, t, x) = {first}); the solvers never write such a file: {remedy}"
            )
        return _with_headroom(equation, ds, profile) if headroom else ds
    call = f"symflow.pde.solvers.dataset({equation.name!r}, {split!r}, {profile!r})"
    ds = generate(equation, split, device=device, progress=progress, call=call, **params)
    io.write_netcdf(ds, path)
    return _with_headroom(equation, ds, profile) if headroom else ds


def _with_headroom(equation: pdes.Equation, ds: xr.Dataset, profile: str) -> xr.Dataset:
    """ds with its validity headroom (`symflow.pde.headroom.headroom`, which warns when the gap is
    small) as the attributes validity_floor, validity_best_control and validity_gap (in memory only)."""
    from . import headroom

    row = headroom.headroom(equation, ds, profile=profile).iloc[0]
    return ds.assign_attrs(
        validity_floor=float(row["floor"]),
        validity_best_control=float(row["best_control_validity"]),
        validity_gap=float(row["gap"]),
    )


def trajectories(equation, profile: str, n: int, split: str = "test", device="cpu") -> xr.Dataset:
    """`n` trajectories of `equation` (name or Equation) solved with the settings of `split` at
    `profile` (grid, seed, step, the equation's oversampling), not stored: for checks that need a
    few solutions rather than a data set. They are not the first n of the stored split (the
    initial conditions drawn depend on n)."""
    equation = pdes.get(equation) if isinstance(equation, str) else equation
    params = {**split_parameters(profile, split, equation), "n_samples": n}
    return generate(equation, split, device=device, **params)


def main(argv=None) -> None:
    from tqdm.auto import tqdm

    parser = argparse.ArgumentParser(description="Generate (or check) every PDE data set of a profile.")
    parser.add_argument("--profile", default="quick", help=f"one of {profiles.PROFILES}")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--equations",
        nargs="*",
        default=None,
        help="registered equation names (default: every registered equation, those of "
        f"the modules in {profiles.ENV_EXTRA_MODULES} included)",
    )
    parser.add_argument("--root", default=None, help="data folder (default: the repository's data/)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (1: the FFTs are small; more threads contend on shared cores)",
    )
    parser.add_argument(
        "--headroom",
        action="store_true",
        help="then print the validity headroom of every equation's test data (symflow.pde.headroom; warns when small)",
    )
    args = parser.parse_args(argv)
    profiles.check_profile(args.profile)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    names = pdes.names() if args.equations is None else args.equations
    chosen = [pdes.get(name) for name in names]  # every name checked before any generation
    for eq in chosen:
        name = eq.name
        for split in SPLITS:
            chunks = math.ceil(split_parameters(args.profile, split, eq)["n_samples"] / BATCH)
            with tqdm(total=eq.n_kept * chunks, desc=f"{name} {split}", unit="saved step", leave=False) as bar:
                ds = dataset(eq, split, args.profile, args.device, args.root, progress=bar.update)
            tqdm.write(
                f"{name:8s} {split:5s} {ds.sizes['sample']:5d} x {ds.sizes['t']} x "
                f"{ds.sizes['x']}  (generation {ds.attrs['generation_wall_time_s']:.1f} s)"
            )
    print(f"profile {args.profile!r}: all data ready in {time.perf_counter() - start:.1f} s")
    if args.headroom:
        from . import headroom

        table = headroom.headroom_table(args.profile, [eq.name for eq in chosen], device=args.device, root=args.root)
        print(table.drop(columns=["advice"]).to_string(index=False, float_format="%.2f"))


if __name__ == "__main__":
    main()
