"""Registry of analyzer backends with lazy imports.

    get_analyzer()                 -> the backend named by $MAGICSTOMP_ANALYZER, else "librosa"
    get_analyzer("essentia")       -> EssentiaAnalyzer (imports essentia only now)
    register("mine", "pkg.mod:Cls")

Choosing a backend whose library is missing raises :class:`ParameterError` for
that choice only; the other backends keep working.
"""

from __future__ import annotations

import importlib
import os

from magicstomp.errors import ParameterError

ENV_VAR = "MAGICSTOMP_ANALYZER"
DEFAULT_BACKEND = "librosa"

#: backend name -> "module:Class"
BACKENDS = {
    "librosa": "analyzers.librosa_backend:LibrosaAnalyzer",
    "essentia": "analyzers.essentia_backend:EssentiaAnalyzer",
}
_INSTALL_HINT = {"essentia": "pip install essentia", "librosa": "pip install librosa"}
_instances: dict = {}


def register(name: str, target: str) -> None:
    """Add a backend ``name`` -> ``"module:Class"``; a name already taken is refused."""
    if name in BACKENDS:
        raise ParameterError(f"analyzer backend {name!r} is already registered "
                             f"(as {BACKENDS[name]}); choose another name", field="backend",
                             value=name, allowed=sorted(BACKENDS))
    if ":" not in target:
        raise ParameterError(f"backend target {target!r} must look like 'module:Class'",
                             field="backend", value=target)
    BACKENDS[name] = target


def backend_name(name: str | None = None) -> str:
    """The backend to use: ``name``, else $MAGICSTOMP_ANALYZER, else "librosa"."""
    chosen = (name or os.environ.get(ENV_VAR) or DEFAULT_BACKEND).strip().lower()
    if chosen not in BACKENDS:
        source = "" if name else f" (from ${ENV_VAR})"
        raise ParameterError(f"analyzer backend {chosen!r}{source} is unknown; expected one of "
                             f"{', '.join(sorted(BACKENDS))}", field="backend", value=chosen,
                             allowed=sorted(BACKENDS))
    return chosen


def get_analyzer(name=None):
    """Return the (cached) analyzer instance for ``name`` (or an Analyzer passed through)."""
    if name is not None and not isinstance(name, str):
        return name
    chosen = backend_name(name)
    if chosen not in _instances:
        module_name, class_name = BACKENDS[chosen].split(":")
        try:
            module = importlib.import_module(module_name)
            _instances[chosen] = getattr(module, class_name)()
        except ImportError as exc:
            hint = _INSTALL_HINT.get(chosen, "install it")
            raise ParameterError(
                f"analyzer backend {chosen!r} needs a library that is not installed ({exc.name}); "
                f"install it ({hint}) or choose --analyzer librosa", field="backend",
                value=chosen) from None
    return _instances[chosen]
