"""Lookup tables with linear interpolation, as the native kernels (``native/``) read them.

A table is an ``(n, 2)`` float32 array of (value at node ``i``, step to node ``i + 1``) over
``n + 1`` equally spaced nodes on [0, 1]: for ``x`` in [0, 1], ``p = x n``,
``i = min(int(p), n - 1)``, ``value = T[i, 0] + (p - i) T[i, 1]`` (native/kernel_common.h,
``lookup``). Tables are built in float64 and stored in float32.
"""

from __future__ import annotations

import torch

__all__ = ["node_table", "table_lookup"]


def node_table(values: torch.Tensor) -> torch.Tensor:
    """``(n + 1,)`` node values -> ``(n, 2)`` float32 (value, step to the next node)."""
    values = values.to(torch.float64)
    return torch.stack([values[:-1], values[1:] - values[:-1]], dim=1).to(torch.float32).contiguous()


def table_lookup(table: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Linear interpolation in an ``(n, 2)`` table at ``x`` in [0, 1] (float32), as the kernels do."""
    n = table.shape[0]
    p = x * float(n)
    i = p.to(torch.int32).clamp_(max=n - 1).long()
    f = p - i.to(torch.float32)
    base = table[:, 0].contiguous()
    step = table[:, 1].contiguous()
    return base[i] + f * step[i]
