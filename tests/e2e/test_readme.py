"""The README (issue 17 item 13): it starts with the two commands, every ``billcore`` command
and option it shows exists in the CLI's parser, the screenshots it embeds exist in docs/ (PNG,
1400x900, under 400 KB) and its links stay in the repository (no http(s) host other than
this machine). Reads files only: no database."""

from __future__ import annotations

import argparse
import re
import struct
from pathlib import Path

import pytest

from billcore.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SCREENSHOTS = ("screenshot-dashboard.png", "screenshot-customer.png", "screenshot-invoice.png")

# `billcore …` in an inline code span, or a .venv/bin/billcore … line of a code block.
INLINE = re.compile(r"`(?:\.venv/bin/)?(billcore [^`]+)`")
BLOCK_LINE = re.compile(r"(?:^|[\s$(])(?:\.venv/bin/|\$\(BIN\)/)?(billcore [^|\n)]+)")


def _text() -> str:
    return README.read_text(encoding="utf-8")


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def _mentions(text: str) -> list[str]:
    found = [m.group(1) for m in INLINE.finditer(text)]
    for block in _code_blocks(text):
        for line in block.splitlines():
            if line.lstrip().startswith("#"):
                continue
            found += [m.group(1) for m in BLOCK_LINE.finditer(line) if "/bin/" in line]
    return found


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _check(mention: str) -> None:
    """The command path of ``billcore A B --opt …`` exists and every ``--opt`` is one of its
    options. An ellipsis ends what is checked (``billcore user …``: a family of commands)."""
    tokens = [t.strip("[]") for t in mention.replace("\\|", " ").split()][1:]
    family = "…" in tokens
    if family:
        tokens = tokens[: tokens.index("…")]
    parser = build_parser()
    path = ["billcore"]
    while (subs := _subcommands(parser)) and tokens and not tokens[0].startswith("-"):
        word = tokens.pop(0)
        assert word in subs, f"`{mention}`: {' '.join(path)} has no command {word!r}"
        path.append(word)
        parser = subs[word]
    assert family or not _subcommands(parser), f"`{mention}`: {' '.join(path)} needs a subcommand"
    options = {s for a in parser._actions for s in a.option_strings}
    for token in tokens:
        if token.startswith("--"):
            option = token.split("=", 1)[0]
            assert option in options, f"`{mention}`: {' '.join(path)} has no option {option}"


def test_readme_starts_with_the_two_commands() -> None:
    assert _text().startswith(
        "# billcore\n\n```sh\n"
        "make run    # installs everything into .venv, migrates an SQLite database under"
        " ./var/ and serves http://127.0.0.1:8000\n"
        "make test   # installs everything, then lint (ruff), types (mypy) and every test on"
        " SQLite and PostgreSQL\n"
        "```\n"
    )


def test_every_billcore_command_in_the_readme_exists() -> None:
    mentions = _mentions(_text())
    # The tour and the command table: at least these are shown, and each one parses.
    for expected in (
        "billcore user password admin",
        "billcore token create --user admin",
        "billcore engine run",
        "billcore demo [--customers N]",
    ):
        assert expected in mentions, expected
    for mention in mentions:
        _check(mention)


def test_a_command_the_parser_lacks_is_caught() -> None:
    with pytest.raises(AssertionError, match="has no command 'frobnicate'"):
        _check("billcore frobnicate")
    with pytest.raises(AssertionError, match="has no option --bogus"):
        _check("billcore engine run --bogus")
    with pytest.raises(AssertionError, match="needs a subcommand"):
        _check("billcore engine")
    with pytest.raises(AssertionError, match="has no command 'users'"):
        _check("billcore users …")
    _check("billcore user …")
    _check("billcore customer list [--status S] [--format table\\|json\\|csv]")


def test_the_screenshots_exist_in_docs() -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", _text())
    for name in SCREENSHOTS:
        assert f"docs/{name}" in images, name
    for image in images:
        path = ROOT / image
        assert path.is_file(), image
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", image
        if path.name in SCREENSHOTS:
            assert struct.unpack(">II", data[16:24]) == (1400, 900), image
            assert len(data) < 400 * 1024, image


def test_no_link_leaves_the_repository() -> None:
    text = _text()
    hosts = set(re.findall(r"https?://([^/\s:)\"'`]+)", text))
    assert hosts <= {"127.0.0.1", "localhost"}, hosts
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        assert "://" not in target and not target.startswith("/"), target
        assert ".." not in Path(target).parts, target
        assert (ROOT / target.split("#")[0]).exists(), target
    assert "../" not in text
