"""Every option of every command says what it does in --help."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from cli.auto_match_hil import main as auto_match_main
from cli.magicstomp_cli import main as magicstomp_main
from hil.virtual_unit import main as virtual_unit_main

JARGON = ("seed option",)      # words a newcomer cannot act on


def _commands(command: click.Command, path: str):
    """(path, command) for the command and, for a group, every subcommand below it."""
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, f"{path} {name}")


ALL = [*_commands(auto_match_main, "auto_match_hil"), *_commands(magicstomp_main, "magicstomp"),
       *_commands(virtual_unit_main, "python -m hil.virtual_unit")]


def test_the_walk_finds_every_magicstomp_subcommand():
    names = {path.split()[-1] for path, _ in ALL if path.startswith("magicstomp ")}
    assert {"types", "presets", "decode", "encode", "ports", "send", "dump", "restore",
            "render"} <= names


@pytest.mark.parametrize("path,command", ALL, ids=[path for path, _ in ALL])
def test_every_option_has_help(path, command):
    assert (command.help or "").strip(), f"{path} has no description"
    missing = [param.opts[0] for param in command.params
               if isinstance(param, click.Option) and not (param.help or "").strip()]
    assert missing == [], f"{path}: options without help: {missing}"
    for param in command.params:
        if isinstance(param, click.Option):
            assert not any(word in param.help.lower() for word in JARGON), (path, param.opts)


@pytest.mark.parametrize("path,command", ALL, ids=[path for path, _ in ALL])
def test_help_is_printed_with_every_option(path, command):
    args = path.split()[1:] if path.startswith("magicstomp") else []
    root = magicstomp_main if path.startswith("magicstomp") else command
    if path.startswith("python"):
        args = []
    result = CliRunner().invoke(root, [*args, "--help"])
    assert result.exit_code == 0, result.output
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.opts[-1] in result.output, (path, param.opts)
