"""Every search strategy in one place, with the options each one declares.

A strategy is a function ``f(space, start, recorder, *, rng, <options>) -> None`` (the
contract of :mod:`optimize.search`). Its options are its keyword-only parameters
after ``rng``, with their defaults: that signature is the declaration. An option a
strategy does not declare is refused with one sentence naming the ones it has
(:func:`check_options`), so a misspelt option cannot silently do nothing.

The built-in strategies are listed in :data:`BUILTIN` (name -> module and function),
imported on first use (``cma`` and ``optuna`` load only when their strategy runs).
:func:`register_strategy` adds one more (a plug-in, a test); a function that takes
``**kwargs`` accepts any option.
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np

from magicstomp.errors import ParameterError

#: name -> (module, function) of every built-in strategy
BUILTIN: dict = {
    "coordinate": ("optimize.search", "coordinate"),
    "grid": ("optimize.search", "grid"),
    "random": ("optimize.strategies", "random_search"),
    "seed_coordinate": ("optimize.strategies", "seed_coordinate"),
    "ours": ("optimize.strategies", "ours"),
    "cma": ("optimize.library_strategies", "cma_search"),
    "tpe": ("optimize.library_strategies", "tpe_search"),
}

#: strategies in use: the built-ins once imported, plus any registered
STRATEGIES: dict = {}

#: keyword-only parameters of the contract, not options
_CONTRACT = ("rng",)


def register_strategy(name: str):
    """Decorator: register ``f(space, start, recorder, *, rng, **options) -> None`` as ``name``."""

    def decorate(func):
        if name in STRATEGIES and STRATEGIES[name] is not func:
            raise ValueError(f"strategy {name!r} is already registered")
        STRATEGIES[name] = func
        return func

    return decorate


def get_strategy(name: str):
    """The strategy called ``name`` (a built-in is imported on first use).

    Raises
    ------
    ParameterError
        for an unknown name, listing the valid ones.
    """
    if name not in STRATEGIES and name in BUILTIN:
        module, function = BUILTIN[name]
        STRATEGIES[name] = getattr(importlib.import_module(module), function)
    if name not in STRATEGIES:
        raise ParameterError(
            f"optimizer {name!r} is unknown; valid optimizers: {', '.join(available_strategies())}",
            field="optimizer", value=name, allowed=available_strategies())
    return STRATEGIES[name]


def available_strategies() -> list:
    """Names of every strategy: the built-ins and those registered."""
    return sorted(set(BUILTIN) | set(STRATEGIES))


def strategy_options(name: str) -> dict | None:
    """``{option: default}`` the strategy declares; None when it accepts any (``**kwargs``)."""
    signature = inspect.signature(get_strategy(name))
    params = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name: p.default for p in params
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in _CONTRACT}


def check_options(name: str, options) -> dict:
    """``options`` as a dict when strategy ``name`` declares every one of them.

    Raises
    ------
    ParameterError
        naming the first unknown option and the options the strategy has, e.g.
        "strategy 'cma' has no option 'popsiz'; its options are: popsize, sigma".
    """
    options = dict(options or {})
    declared = strategy_options(name)
    if declared is None:
        return options
    for key in options:
        if key not in declared:
            have = ", ".join(sorted(declared)) or "none"
            raise ParameterError(f"strategy {name!r} has no option {key!r}; its options are: "
                                 f"{have}", field="optimizer_options", value=key,
                                 allowed=sorted(declared))
    return options


def check_positive(name: str, value, *, integer: bool = False, upper: float | None = None):
    """A positive number (whole if ``integer``, at most ``upper``), or a ParameterError."""
    bad = isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
    if not bad:
        bad = (integer and int(value) != value) or not value > 0 or \
            (upper is not None and value > upper)
    if bad:
        limit = f" and at most {upper}" if upper is not None else ""
        raise ParameterError(f"{name}={value!r} is not allowed; expected a positive "
                             f"{'whole ' if integer else ''}number{limit}",
                             field=name, value=value)


def check_count(name: str, value) -> None:
    """A whole number of at least 0, or a ParameterError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ParameterError(f"{name}={value!r} is not allowed; expected a whole number of at "
                             "least 0", field=name, value=value)
