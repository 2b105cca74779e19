"""``billcore dids import FILE.csv``: numbers into the DID inventory (issue 14; the columns
are in docs/dids.md). Loaded by ``billcore.cli.main`` after ``django.setup()``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from django.utils import timezone

from billcore.accounts.models import User
from billcore.dids.importer import import_csv
from billcore.errors import BillcoreError

ERRORS_SHOWN = 20


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def cmd_dids_import(args: argparse.Namespace) -> int:
    """Exit 0: every line saved or unchanged; 1: some lines refused (the others saved);
    2: nothing saved (an argument or the file is wrong)."""
    if args.user:
        user = User.objects.filter(username=args.user, is_active=True).first()
        if user is None:
            return _error(f"--user: no active user named {args.user!r}")
    else:
        user = User.objects.filter(is_superuser=True, is_active=True).order_by("id").first()
        if user is None:
            return _error("no administrator to act as: create one (billcore createadmin)")
    path = Path(args.file)
    if not path.is_file():
        return _error(f"FILE.csv: {args.file}: no such file")
    try:
        result = import_csv(
            actor=user, now=timezone.now(), content=path.read_bytes(), currency=args.currency
        )
    except BillcoreError as exc:
        return _error(f"{args.file}: {exc.message} (nothing was saved)")
    print(
        f"Imported {args.file}: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged, {len(result.errors)} refused"
    )
    for line, _field, message in result.errors[:ERRORS_SHOWN]:
        print(f"{args.file}:{line}: {message}", file=sys.stderr)
    if len(result.errors) > ERRORS_SHOWN:
        print(f"… and {len(result.errors) - ERRORS_SHOWN} more", file=sys.stderr)
    return 1 if result.errors else 0
