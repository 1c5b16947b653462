"""bench/diagnose_nkdv_floor.py: the part of u u_x that a 2/3-dealiased solver drops."""

import math
import sys

import torch

from symflow import io
from symflow.pde import pdes

sys.path.insert(0, str(io.REPO / "bench"))
import diagnose_nkdv_floor as diagnose  # noqa: E402

NKDV = pdes.get("nKdV")


def grid_field(index: int, nx: int = 64, nt: int = 3):
    """u = sin(2 pi index x / L) on nx points, repeated over nt rows: u (1, nt, nx), t (nt,), x (nx,)."""
    x = torch.arange(nx, dtype=torch.float64) * NKDV.L / nx
    u = torch.sin(2 * math.pi * index * x / NKDV.L).expand(1, nt, nx)
    return u, torch.linspace(0.0, 20.0, nt, dtype=torch.float64), x


def test_no_gap_when_u_u_x_fits_below_the_cut():
    u, t, _ = grid_field(index=5)  # u u_x has wavenumber index 10 <= 64 // 3
    assert diagnose.dealiasing_gap(NKDV, u, t).abs().max() < 1e-12


def test_the_whole_term_is_dropped_above_the_cut():
    u, t, x = grid_field(index=12)  # u u_x = (k / 2) sin(2 k x): index 24 > 64 // 3
    k = 2 * math.pi * 12 / NKDV.L
    expected = NKDV.c * torch.exp(t / 50)[None, :, None] * (k / 2) * torch.sin(2 * k * x)
    assert torch.allclose(diagnose.dealiasing_gap(NKDV, u, t), expected, atol=1e-12)
