"""Comparison helpers shared by the tests that use colour-science as an oracle."""

from __future__ import annotations

import numpy as np
import torch


def assert_rel(actual: torch.Tensor, expected, tol: float = 1e-5) -> None:
    """Max abs error relative to the largest expected magnitude, below ``tol``."""
    a = actual.detach().cpu().numpy()
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape
    err = np.max(np.abs(a - e)) / max(np.max(np.abs(e)), 1e-300)
    assert err < tol, f"relative error {err:.3g}"
