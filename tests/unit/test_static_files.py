"""The stylesheet is whole: every block that opens closes, outside comments and strings (a
merge that drops a closing brace silently un-styles every rule after it: issue 17's charts
were drawn black at 400 % size once)."""

from __future__ import annotations

import re
from pathlib import Path

CSS = Path(__file__).resolve().parents[2] / "src/billcore/web/static/web/billcore.css"


def _code(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', text)


def test_every_block_of_the_stylesheet_closes() -> None:
    depth = 0
    for number, line in enumerate(_code(CSS.read_text(encoding="utf-8")).splitlines(), 1):
        for char in line:
            depth += {"{": 1, "}": -1}.get(char, 0)
            assert depth >= 0, f"billcore.css line {number}: a '}}' closes nothing"
    assert depth == 0, f"billcore.css: {depth} block(s) never closed"


def test_no_rule_sits_inside_another_one() -> None:
    """Only @media/@supports blocks hold rules: a selector at depth 2 outside them means a
    rule lost its closing brace."""
    stack: list[str] = []
    header = ""
    for number, line in enumerate(_code(CSS.read_text(encoding="utf-8")).splitlines(), 1):
        for char in line:
            if char == "{":
                if stack and not stack[-1].startswith("@"):
                    raise AssertionError(f"billcore.css line {number}: {header.strip()!r} nested")
                stack.append(header.strip())
                header = ""
            elif char == "}":
                stack.pop()
                header = ""
            elif char == ";":
                header = ""
            else:
                header += char
        header += " "
