"""The compiled kernels, ``hdrvideo._native``, when they are built (``pip install .``).

Every kernel has a torch path that serves where the module is absent (a source checkout
without a build, an exotic platform); callers ask :func:`native_module` for the functions
they need and fall back to torch on ``None``.
"""

from __future__ import annotations

import functools
from types import ModuleType

__all__ = ["native_module"]


@functools.lru_cache(maxsize=None)
def native_module(*functions: str) -> ModuleType | None:
    """``hdrvideo._native`` if it imports and has every name in ``functions``, else ``None``."""
    try:
        from hdrvideo import _native
    except ImportError:
        return None
    return _native if all(hasattr(_native, name) for name in functions) else None
