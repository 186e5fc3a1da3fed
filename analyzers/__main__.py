"""``python -m analyzers``: align a target to its DI, or analyse it, printing JSON.

    python -m analyzers align TARGET --di DI [--rate 48000]
    python -m analyzers analyze TARGET [--di DI] [--backend librosa|essentia] [--rate 48000]

Errors print one line ("Error: ...") and exit 1; --verbose adds the traceback.
"""

from __future__ import annotations

import json

import click
import numpy as np

from magicstomp.console import handle_errors, verbose_option

from .factory import BACKENDS, ENV_VAR


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _echo(doc) -> None:
    click.echo(json.dumps(_jsonable(doc), indent=2))


@click.group()
def main():
    """Alignment and analysis of a target recording (JSON on stdout)."""


@main.command("align")
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--di", "di_path", required=True, type=click.Path(dir_okay=False),
              help="The DI recording the target was played from.")
@click.option("--rate", "rate_hz", type=int, default=None,
              help="Working sample rate in Hz (default: the DI's rate).")
@verbose_option
@handle_errors
def align_command(target, di_path, rate_hz, verbose):
    """Where the DI sits in TARGET: offset (target lags DI), polarity, level, confidence."""
    from .alignment import align
    from .loading import load_audio
    di = load_audio(di_path, sample_rate=rate_hz, role="DI")
    tgt = load_audio(target, sample_rate=di.sample_rate, role="target")
    result = align(tgt.samples, di.samples, di.sample_rate)
    doc = result.to_dict()
    doc["warnings"] = tgt.warnings + di.warnings + doc["warnings"]
    _echo(doc)


@main.command("analyze")
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--di", "di_path", default=None, type=click.Path(dir_okay=False),
              help="The DI recording (better estimates: the rig is measured, not guessed).")
@click.option("--backend", "--analyzer", "backend", type=click.Choice(sorted(BACKENDS)),
              default=None, help=f"Feature backend (default: ${ENV_VAR} or librosa).")
@click.option("--rate", "rate_hz", type=int, default=48000, show_default=True,
              help="Working sample rate in Hz.")
@verbose_option
@handle_errors
def analyze_command(target, di_path, backend, rate_hz, verbose):
    """The initial device-neutral patch for TARGET, with the features behind it."""
    from magicstomp.effects import effect_type
    from magicstomp.neutral import suggest_effect_type
    from .heuristics import initial_patch
    from .loading import load_audio
    tgt = load_audio(target, sample_rate=rate_hz, role="target")
    di = load_audio(di_path, sample_rate=rate_hz, role="DI") if di_path else None
    neutral = initial_patch(tgt.samples, tgt.sample_rate, di=None if di is None else di.samples,
                            backend=backend)
    suggested = effect_type(suggest_effect_type(neutral))
    doc = neutral.to_dict()
    doc["suggested_effect_type"] = {"id": suggested.id, "name": suggested.name}
    doc["warnings"] = tgt.warnings + ([] if di is None else di.warnings)
    _echo(doc)


if __name__ == "__main__":
    main()
