"""The operator contract and registry.

An operator is a small class registered under a name so that a filter string such as
``tonemap=curve=bt2390:peak_nits=203,gamut=mode=perceptual`` builds a chain,
``hdrvideo filters`` lists every operator with its options (like ``ffmpeg -filters``), and
third parties add their own through the ``hdrvideo.operators`` entry-point group.

Every operator works in the working space: ``(3, H, W)`` or ``(N, 3, H, W)`` tensors of
linear BT.2020 light in cd/m², on whatever device the tensor is on. Operators that change
what the output is meant for (SDR display, a lower-peak HDR display) say so through
:meth:`Operator.output_target`, from which the writer picks the output signalling.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch

from hdrvideo.errors import InvalidInputError
from hdrvideo.frame import Frame


@dataclass(frozen=True)
class Option:
    """One documented option of an operator.

    Attributes:
        name: as written in a filter string (``peak_nits``).
        type: ``float``, ``int``, ``str`` or ``bool``.
        default: value when not given (``None`` = automatic, explained in ``help``).
        help: one line, with the unit.
        choices: allowed values for ``str`` options.
        minimum, maximum: inclusive range for numbers.
    """

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, text: Any) -> Any:
        """Convert and validate a value (a string from a filter chain, or a Python value)."""
        if text is None:
            return None
        try:
            if self.type is bool:
                value = text if isinstance(text, bool) else str(text).lower() in ("1", "true", "yes", "on")
            else:
                value = self.type(text)
        except (TypeError, ValueError):
            raise InvalidInputError(f"option {self.name}: {text!r} is not a valid {self.type.__name__}") from None
        if self.choices is not None and value not in self.choices:
            raise InvalidInputError(f"option {self.name}: {value!r} is not one of {', '.join(self.choices)}")
        if self.minimum is not None and value < self.minimum:
            raise InvalidInputError(f"option {self.name}: {value} is below the minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise InvalidInputError(f"option {self.name}: {value} is above the maximum {self.maximum}")
        return value


@dataclass(frozen=True)
class OutputTarget:
    """What an operator's output is meant for; the writer derives its signalling from it.

    ``kind`` is ``"sdr"`` (BT.709 primaries, BT.1886), ``"hdr10"`` (BT.2020, PQ) or ``"hlg"``;
    ``peak_nits`` is the display peak the output was mapped to; ``white_nits`` the level of
    reference white in it (for SDR: the luminance of code value 1.0 is ``peak_nits``).
    """

    kind: str
    peak_nits: float
    white_nits: float = 203.0


class Operator:
    """Base class of every operator.

    Subclasses set ``name``, ``description`` and ``options`` and implement :meth:`process`.
    Stateless operators need nothing more; temporal ones override :meth:`reset`,
    :meth:`state_dict` and :meth:`load_state_dict` so a seek, a scene cut or a chunk handed to
    another machine starts from a known state.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    temporal: ClassVar[bool] = False

    def __init__(self, **values: Any) -> None:
        known = {o.name: o for o in self.options}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise InvalidInputError(
                f"{self.name}: unknown option {', '.join(unknown)}; valid: {', '.join(known) or 'none'}"
            )
        for option in self.options:
            raw = values.get(option.name, option.default)
            setattr(self, option.name, option.parse(raw))

    # -- processing ----------------------------------------------------------------------
    def process(self, x: torch.Tensor, frame: Frame | None = None) -> torch.Tensor:
        """Map ``x`` (``(3, H, W)`` or ``(N, 3, H, W)``, cd/m²) to the output, same shape."""
        raise NotImplementedError

    def __call__(self, frame: Frame | torch.Tensor) -> Frame | torch.Tensor:
        if isinstance(frame, torch.Tensor):
            return self.process(frame, None)
        out = self.process(frame.data, frame)
        return dataclasses.replace(frame, data=out, side_data=dict(frame.side_data))

    def output_target(self) -> OutputTarget | None:
        """What the output is meant for, or ``None`` when the operator does not change it."""
        return None

    # -- temporal state --------------------------------------------------------------------
    def reset(self) -> None:
        """Forget temporal state (stateless operators: nothing to do)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise InvalidInputError(f"{self.name} is stateless; got state {sorted(state)}")

    def __repr__(self) -> str:
        args = ":".join(f"{o.name}={getattr(self, o.name)}" for o in self.options)
        return f"{self.name}={args}" if args else self.name


_REGISTRY: dict[str, type[Operator]] = {}
_ENTRY_POINTS_LOADED = False


def register(cls: type[Operator]) -> type[Operator]:
    """Class decorator: make an operator available by its ``name`` in filter strings."""
    if not cls.name:
        raise InvalidInputError(f"{cls.__name__} has no name")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise InvalidInputError(f"operator name {cls.name!r} is taken by {existing.__module__}.{existing.__qualname__}")
    _REGISTRY[cls.name] = cls
    return cls


def _load_entry_points() -> None:
    """Import third-party operators declared under the ``hdrvideo.operators`` group."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    from importlib.metadata import entry_points

    for entry in entry_points(group="hdrvideo.operators"):
        loaded = entry.load()
        if isinstance(loaded, type) and issubclass(loaded, Operator):
            register(loaded)


def available_operators() -> dict[str, type[Operator]]:
    """Every registered operator by name (built-in and entry points), sorted."""
    import hdrvideo.ops  # noqa: F401  (registers the built-ins)

    _load_entry_points()
    return dict(sorted(_REGISTRY.items()))


def get_operator(name: str) -> type[Operator]:
    operators = available_operators()
    try:
        return operators[name]
    except KeyError:
        raise InvalidInputError(f"unknown filter {name!r}; available: {', '.join(operators)}") from None


def parse_chain(text: str) -> list[Operator]:
    """Build operators from a filter string: ``name=key=value:key=value,name2,...``.

    A bare first value without ``key=`` goes to the operator's first option
    (``tonemap=bt2390`` means ``tonemap=curve=bt2390``), as in FFmpeg.
    """
    chain: list[Operator] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, args = item.partition("=")
        cls = get_operator(name.strip())
        values: dict[str, str] = {}
        for position, pair in enumerate(filter(None, args.split(":"))):
            key, sep, value = pair.partition("=")
            if not sep:
                if position != 0 or not cls.options:
                    raise InvalidInputError(f"{name}: expected key=value, got {pair!r}")
                key, value = cls.options[0].name, pair
            values[key.strip()] = value.strip()
        chain.append(cls(**values))
    return chain


OperatorFactory = Callable[..., Operator]
