"""The registry of training recipes: model name -> function that trains it and writes its weights.

A network module (``hdrvideo.nn.tmnet``, ``hdrvideo.nn.nriqa``, ...) registers its recipe
at import time::

    from hdrvideo.nn.recipes import register_recipe

    def train(out_dir: Path, *, steps: int | None, seed: int, resume: bool, threads: int) -> Path:
        ...  # returns the path of the weights it wrote (safetensors)

    register_recipe("tmnet", train)

``hdrvideo train MODEL --out DIR`` (:mod:`hdrvideo.nn.cli`) calls :func:`load_recipes`,
which imports the shipped network modules (``hdrvideo.nn.SHIPPED_NETWORKS``) so that their
recipes register, then runs ``RECIPES[MODEL]``. ``steps=None`` means the recipe's own default (the shipped
run); ``threads`` is the CPU thread count the recipe should use (``torch.set_num_threads``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hdrvideo.errors import InvalidInputError

__all__ = ["RECIPES", "Recipe", "get_recipe", "load_recipes", "register_recipe"]

Recipe = Callable[..., Path]

#: Model name -> ``train(out_dir, *, steps, seed, resume, threads) -> weights path``.
RECIPES: dict[str, Recipe] = {}

def register_recipe(name: str, train: Callable[..., Path]) -> None:
    """Register ``train`` under ``name`` (re-registering the same function is a no-op).

    Raises:
        InvalidInputError: an empty name, a non-callable, or a name taken by another function.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"recipe name must be a non-empty string, got {name!r}")
    if not callable(train):
        raise InvalidInputError(f"recipe {name!r}: train must be callable")
    existing = RECIPES.get(name)
    if existing is not None and existing is not train and getattr(existing, "__qualname__", None) != getattr(
        train, "__qualname__", object()
    ):
        raise InvalidInputError(f"recipe {name!r} is already registered by {existing.__module__}")
    RECIPES[name] = train


def load_recipes() -> dict[str, Recipe]:
    """Import the shipped network modules (:func:`hdrvideo.nn.import_networks`), whose
    import registers their recipes, and return :data:`RECIPES`. An import error in a
    network module propagates: it is a bug."""
    from hdrvideo.nn import import_networks

    import_networks()
    return RECIPES


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name`` (after :func:`load_recipes`).

    Raises:
        InvalidInputError: unknown name; the message lists the known ones.
    """
    load_recipes()
    try:
        return RECIPES[name]
    except KeyError:
        known = ", ".join(sorted(RECIPES)) or "none registered"
        raise InvalidInputError(f"unknown model {name!r}; known models: {known}") from None
