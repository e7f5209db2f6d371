"""Operators on working-space frames: tone mapping, gamut mapping, temporal statistics.

Importing this package registers the built-in operators (see :mod:`hdrvideo.ops.base`),
including the per-frame quality scorer ``score`` that lives in :mod:`hdrvideo.quality.scoring`.
"""

from hdrvideo.ops.base import Operator, Option, OutputTarget, available_operators, get_operator, parse_chain, register
from hdrvideo.ops import curves, gamut, local, stats, tmnet, tonemap  # noqa: E402,F401  (register the built-ins)

__all__ = ["Operator", "Option", "OutputTarget", "available_operators", "get_operator", "parse_chain", "register"]
from hdrvideo.quality import scoring as _scoring  # noqa: E402,F401  (registers the score operator)
