"""Neural networks: the training kit and the networks that ship with weights.

The kit (:mod:`~hdrvideo.nn.data`, :mod:`~hdrvideo.nn.procedural`, :mod:`~hdrvideo.nn.losses`,
:mod:`~hdrvideo.nn.training`, :mod:`~hdrvideo.nn.recipes`) is shared by every network. Each
network module registers its architecture with :mod:`hdrvideo.engines.registry` (so the
engines can run it on torch, ONNX Runtime or TensorRT) and its training recipe with
:mod:`hdrvideo.nn.recipes` (so ``hdrvideo train NAME`` reproduces the shipped weights).

The shipped networks (imported on demand by :func:`import_networks`, so that importing
this package, e.g. for the CLI's parser, does not load torch):

- :mod:`hdrvideo.nn.tmnet`: the real-time tone-mapping network behind ``tonemap=curve=net``.
- :mod:`hdrvideo.nn.nriqa`: the no-reference HDR/SDR quality network behind ``score=nriqa``.
"""

from __future__ import annotations

import importlib

__all__ = ["SHIPPED_NETWORKS", "import_networks"]

#: Modules that register a shipped network (model + training recipe) when imported.
SHIPPED_NETWORKS = ("hdrvideo.nn.tmnet", "hdrvideo.nn.nriqa")


def import_networks() -> None:
    """Import every shipped network module so that its model and recipe are registered."""
    for module in SHIPPED_NETWORKS:
        importlib.import_module(module)
