"""DESIGN rule 1, kept: only ``billcore.ledger`` writes a ledger row or a balance, and it
moves a balance by a delta (``balance = balance + δ``), never to an absolute value. A scan of
the source, so a new writer elsewhere fails here rather than in a review."""

from __future__ import annotations

import re
from pathlib import Path

import billcore

SRC = Path(billcore.__file__).parent
LEDGER = SRC / "ledger"

# A ledger row created, or a balance column written, outside the ledger.
WRITES = [
    re.compile(r"\bTransaction\.objects\.(create|bulk_create|get_or_create|update_or_create)\("),
    re.compile(r"\bTransaction\("),
    re.compile(r"\(\s*Transaction\s*,"),  # a raw insert helper given the ledger's model
    re.compile(r"\bSET\s+balance\b", re.IGNORECASE),
    re.compile(r"\.update\([^)]*\bbalance\s*="),
    re.compile(r"""["']balance["']\s*:\s*["']bigint["']"""),  # a batch balance writer
]
# An absolute balance, anywhere (the ledger included).
ABSOLUTE = re.compile(r"SET\s+balance\s*=\s*%s", re.IGNORECASE)


def _sources() -> list[Path]:
    return [p for p in SRC.rglob("*.py") if "migrations" not in p.parts]


def test_only_the_ledger_writes_ledger_rows_and_balances() -> None:
    found = [
        f"{path.relative_to(SRC)}:{n}: {line.strip()}"
        for path in _sources()
        if LEDGER not in path.parents
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if any(p.search(line) for p in WRITES)
    ]
    assert found == []


def test_no_writer_sets_an_absolute_balance() -> None:
    found = [
        f"{path.relative_to(SRC)}:{n}"
        for path in _sources()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if ABSOLUTE.search(line)
    ]
    assert found == []
