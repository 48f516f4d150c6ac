"""The README's reference tables against the code: every setting (``flask_notebook.settings``
defines each key once, with its default) and every command-line option are listed with their
default and meaning, and nothing else is; no code names a key that is not a setting."""

from __future__ import annotations

import argparse
import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from flask_notebook.cli import build_parser
from flask_notebook.settings import ALIASES, DEFINITIONS

PROJECT = Path(__file__).parent.parent
README = PROJECT / "README.md"
#: A config key inside a string: not a prefix ("NOTEBOOK_"), nor a pattern ("NOTEBOOK_CULL_*").
KEY = re.compile(r"(?<![A-Z0-9_])NOTEBOOK_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_*])")


def section(title: str) -> str:
    """The README's text under the heading `## title`, up to the next heading of that level."""
    text = README.read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, re.M | re.S)
    assert match, f"README has no section '## {title}'"
    return match.group(1)


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the Markdown tables in `text`, as lists of cells."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|") or re.match(r"^\|[-| :]+\|$", line):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows.append(cells)
    return rows


def config_table() -> dict[str, tuple[str, str]]:
    """key -> (default, meaning), from the Configuration section's table."""
    table: dict[str, tuple[str, str]] = {}
    for cells in table_rows(section("Configuration")):
        match = re.fullmatch(r"`(NOTEBOOK_[A-Z0-9_]+)`", cells[0])
        if match:
            assert match.group(1) not in table, f"{match.group(1)} is listed twice"
            assert len(cells) == 3, cells
            table[match.group(1)] = (cells[1], cells[2])
    return table


def flag_table() -> dict[str, tuple[str, str]]:
    """option string -> (default, meaning), from The command line's table. A row may name
    several options (`--certfile`, `--keyfile`), each with its argument (`--trust-proxy [N]`)."""
    table: dict[str, tuple[str, str]] = {}
    for cells in table_rows(section("The command line")):
        options = re.findall(r"`(--?[a-z][a-z-]*)(?: [^`]*)?`", cells[0])  # `--flag` or `--flag [N]`
        if not options or cells[0] == "flag":
            continue
        assert len(cells) == 3, cells
        for option in options:
            assert option not in table, f"{option} is listed twice"
            table[option] = (cells[1], cells[2])
    return table


def keys_in_code() -> dict[str, set[str]]:
    """Every `NOTEBOOK_*` key in a string literal of the package or app.py -> where."""
    found: dict[str, set[str]] = {}
    for path in [*sorted((PROJECT / "flask_notebook").rglob("*.py")), PROJECT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for key in KEY.findall(node.value):
                    found.setdefault(key, set()).add(str(path.relative_to(PROJECT)))
    return found


def literal(value: Any) -> set[str]:
    """How the README may write a default: JSON (as the environment takes it), or a string bare."""
    spellings = {json.dumps(value)}
    if isinstance(value, str) and value:
        spellings.add(value)
    return {f"`{s}`" for s in spellings}


#: Every setting's default, as ``app.config`` gets it: the one definition of each key.
DEFAULTS = {definition.key: definition.default for definition in DEFINITIONS}


def test_the_key_scanner_finds_keys_and_only_keys() -> None:
    assert KEY.findall('"NOTEBOOK_TOKEN"') == ["NOTEBOOK_TOKEN"]
    assert KEY.findall("set NOTEBOOK_MAX_KERNELS, or NOTEBOOK_WS_PING_INTERVAL.") == [
        "NOTEBOOK_MAX_KERNELS", "NOTEBOOK_WS_PING_INTERVAL"]
    assert KEY.findall('key.startswith("NOTEBOOK_")') == []
    assert KEY.findall("NOTEBOOK_CULL_*: culling") == []
    found = keys_in_code()
    assert {"NOTEBOOK_ROOT_DIR", "NOTEBOOK_BASE_URL", "NOTEBOOK_TOKEN"} <= set(found)
    assert set(DEFAULTS) <= set(found)


def test_the_configuration_table_lists_every_setting_and_nothing_else() -> None:
    table = config_table()
    missing, stale = sorted(set(DEFAULTS) - set(table)), sorted(set(table) - set(DEFAULTS) - set(ALIASES))
    assert not missing, f"add these settings to the README's Configuration table: {missing}"
    assert not stale, f"the README's Configuration table lists keys that are no setting: {stale}"


def test_every_key_the_code_names_is_a_setting() -> None:
    named = {key: sorted(where) for key, where in keys_in_code().items() if key not in DEFAULTS and key not in ALIASES}
    assert not named, f"define these keys in flask_notebook/settings.py: {named}"


def test_every_key_the_code_names_is_in_the_configuration_table() -> None:
    table = config_table()
    missing = {key: sorted(where) for key, where in keys_in_code().items() if key not in table and key not in ALIASES}
    assert not missing, f"add these keys to the README's Configuration table: {missing}"


def test_the_configuration_table_has_no_key_the_code_does_not_know() -> None:
    stale = set(config_table()) - set(keys_in_code())
    assert not stale, f"the README's Configuration table lists keys no code reads: {sorted(stale)}"


def test_each_key_is_listed_with_its_default_and_meaning() -> None:
    for key, (default_cell, meaning) in config_table().items():
        assert meaning, f"{key}: no meaning"
        assert default_cell, f"{key}: no default"
        if key not in DEFAULTS:
            continue  # reported by the test above
        default = DEFAULTS[key]
        if default is None:
            continue  # computed at start-up (the current directory, a generated token): described
        assert any(default_cell.startswith(s) for s in literal(default)), (
            f"{key}: the README says {default_cell!r}, the code's default is {json.dumps(default)}")


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [action for action in parser._actions if action.option_strings]


def test_every_command_line_option_is_listed_with_its_default() -> None:
    table = flag_table()
    synopsis = section("The command line").split("```")[1]
    for action in options(build_parser()):
        for option in action.option_strings:
            assert option in table, f"{option} is missing from the README's table of flags"
        default_cell, meaning = table[action.option_strings[-1]]
        assert meaning, f"{action.option_strings}: no meaning"
        if isinstance(action, argparse._HelpAction):
            continue
        long_option = action.option_strings[-1]
        assert re.search(rf"(?<![\w-]){re.escape(long_option)}(?![\w-])", synopsis), (
            f"{long_option} is missing from the synopsis")
        if isinstance(action, argparse._StoreTrueAction):
            assert default_cell == "off", f"{long_option}: a switch's default is 'off', not {default_cell!r}"
        elif action.default is None:
            assert default_cell and default_cell != "off", f"{long_option}: say what happens by default"
        else:
            assert f"`{action.default}`" in default_cell, (
                f"{long_option}: the README says {default_cell!r}, the parser's default is {action.default!r}")


def test_the_table_of_flags_has_no_option_the_parser_does_not_know() -> None:
    known = {option for action in options(build_parser()) for option in action.option_strings}
    stale = set(flag_table()) - known
    assert not stale, f"the README lists options the command line does not have: {sorted(stale)}"
    synopsis = section("The command line").split("```")[1]
    assert not set(re.findall(r"--[a-z][a-z-]*", synopsis)) - known
