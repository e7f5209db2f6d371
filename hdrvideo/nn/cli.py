"""``hdrvideo train MODEL --out DIR [--steps N] [--seed S] [--resume] [--threads T]``.

Runs the training recipe registered for ``MODEL`` (:mod:`hdrvideo.nn.recipes`) and prints
the path and SHA-256 of the weights it wrote. ``--list`` prints the known models.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hdrvideo.errors import InvalidInputError, OutputError

__all__ = ["add_parser", "run_train"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand to the ``hdrvideo`` parser."""
    p = subparsers.add_parser(
        "train",
        help="train one of the shipped networks with its recipe",
        description="Train a network with the project's recipe and write its weights (safetensors) to --out.",
    )
    p.add_argument("model", nargs="?", help="model name (see --list)")
    p.add_argument("--out", type=Path, help="output folder (created; holds weights, checkpoint, model card)")
    p.add_argument("--steps", type=int, default=None, help="optimisation steps (default: the recipe's shipped run)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt when present")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch (default 2)")
    p.add_argument("--list", action="store_true", help="list the known models and exit")
    p.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    """Handler of ``hdrvideo train``; returns the exit code (errors raise HDRVideoError)."""
    from hdrvideo.nn.recipes import RECIPES, get_recipe, load_recipes
    from hdrvideo.nn.training import weights_sha256

    if args.list:
        load_recipes()
        for name in sorted(RECIPES):
            doc = (RECIPES[name].__doc__ or "").strip().splitlines()
            print(f"{name}\t{doc[0] if doc else ''}")
        return 0
    if not args.model:
        raise InvalidInputError("train: name a model (hdrvideo train --list shows them)")
    recipe = get_recipe(args.model)
    if args.out is None:
        raise InvalidInputError("train: --out DIR is required")
    if args.steps is not None and args.steps < 1:
        raise InvalidInputError(f"train: --steps must be positive, got {args.steps}")
    if args.threads < 1:
        raise InvalidInputError(f"train: --threads must be positive, got {args.threads}")
    if args.out.exists() and not args.out.is_dir():
        raise OutputError(f"{args.out}: exists and is not a folder")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{args.out}: cannot create the folder ({exc})") from exc
    weights = Path(recipe(args.out, steps=args.steps, seed=args.seed, resume=args.resume, threads=args.threads))
    print(f"{weights}  sha256={weights_sha256(weights)}", file=sys.stdout)
    return 0
