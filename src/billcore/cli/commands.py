"""The ``billcore`` commands other than users and tokens (see ``billcore.cli`` for the list).
Loaded by ``billcore.cli.main`` after ``django.setup()``, so models import at module level."""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from typing import Any

from billcore.accounts.access import SystemActor
from billcore.accounts.lockout import list_lockouts, unlock
from billcore.accounts.models import User, username_key
from billcore.accounts.passwords import set_password
from billcore.charging.importer import (
    ImportAborted,
    ImportFailed,
    ImportProgress,
    Reject,
    import_xdrs,
)
from billcore.classes.models import CustomerClass
from billcore.cli.base import table
from billcore.customers.models import Customer, Status
from billcore.demo import load_demo
from billcore.engine import STEPS, run
from billcore.errors import NotFound, ValidationFailed


def cmd_migrate(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    _ensure_var()
    call_command("migrate", interactive=False, verbosity=args.verbosity)
    return 0


def _ensure_var() -> None:
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        from pathlib import Path

        Path(db["NAME"]).parent.mkdir(parents=True, exist_ok=True)


def cmd_createadmin(args: argparse.Namespace) -> int:
    """Exit 0: created (or exists with --if-missing); 2: exists, or the password is refused
    by the password validators (nothing is created)."""
    from django.db import transaction

    if User.objects.filter(username_key=username_key(args.username)).exists():
        if args.if_missing:
            print(f"Administrator {args.username!r} exists; sign in with its password.")
            return 0
        print(f"error: user {args.username!r} already exists", file=sys.stderr)
        return 2
    given = os.environ.get("BILLCORE_ADMIN_PASSWORD")
    password = given or secrets.token_urlsafe(12)
    user = User(
        username=User.normalize_username(args.username), email="", is_staff=True, is_superuser=True
    )
    try:
        set_password(user, password, field="BILLCORE_ADMIN_PASSWORD" if given else "password")
    except ValidationFailed as exc:
        print(f"error: {exc.field}: {exc.message}", file=sys.stderr)
        return 2
    with transaction.atomic():
        user.save()
    if given:
        print(f"Administrator {args.username!r} created with BILLCORE_ADMIN_PASSWORD.")
    else:
        print("=" * 64)
        print(f"Administrator created. Username: {args.username}")
        print(f"Password (shown once, write it down): {password}")
        print("=" * 64)
    return 0


def _command_line_actor() -> SystemActor:
    """An administrator's command typed at the machine: audit rows name it ``cli:<os user>``."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return SystemActor(f"cli:{who}")


def cmd_lockouts(args: argparse.Namespace) -> int:
    from django.utils import timezone

    rows = list_lockouts(actor=_command_line_actor(), now=timezone.now())
    if not rows:
        print("Nobody is locked out.")
        return 0
    print(
        table(
            ["username", "address", "failures", "last failure (UTC)", "locked until (UTC)"],
            [
                (
                    r.username,
                    r.address or "unknown",
                    r.failures,
                    f"{r.last_failure_at:%Y-%m-%d %H:%M:%S}",
                    f"{r.locked_until:%Y-%m-%d %H:%M:%S}",
                )
                for r in rows
            ],
        )
    )
    return 0


def cmd_unlock(args: argparse.Namespace) -> int:
    """Exit 0: unlocked; 1: no failed sign-ins of that name (and address); 2: bad input."""
    from django.utils import timezone

    try:
        cleared = unlock(
            actor=_command_line_actor(),
            now=timezone.now(),
            username=args.username,
            address=args.address,
        )
    except ValidationFailed as exc:
        print(f"error: --{exc.field}: {exc.message}", file=sys.stderr)
        return 2
    except NotFound as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    where = f"from {args.address}" if args.address else f"from {cleared} address(es)"
    print(f"Unlocked {args.username!r} {where}.")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from gunicorn.app.base import BaseApplication

    # Deferred: importing billcore.wsgi builds the WSGI application (every middleware), which
    # only the server needs.
    from billcore.wsgi import application

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("threads", args.threads)
            self.cfg.set("accesslog", "-" if args.access_log else None)

        def load(self) -> Any:
            return application

    engine = None
    if args.engine_interval > 0:
        import atexit
        import subprocess

        # The billing engine on a schedule, beside the web server (its own process, so a long
        # run never holds a web worker); it stops with the server.
        engine = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "billcore.cli",
                "engine",
                "loop",
                "--interval",
                str(args.engine_interval),
                "--exit-with-parent",
            ],
            # The parent's pid, so a server that dies while the loop is still starting is
            # noticed too (os.getppid() would then already be init's).
            env={**os.environ, "BILLCORE_ENGINE_PARENT": str(os.getpid())},
        )
        atexit.register(engine.terminate)
    print(f"billcore serving on http://{args.host}:{args.port}/ (Ctrl+C to stop)", flush=True)
    if engine is not None:
        print(f"billing engine: every {args.engine_interval} s (--engine-interval 0: off)")
    Server().run()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    summary = load_demo(customers=args.customers, seed=args.seed)
    print(summary)
    return 0


def cmd_class_list(args: argparse.Namespace) -> int:
    rows = [
        (
            c.pk,
            c.name,
            c.currency_id or "",
            "on" if c.generate_statistics else "off",
            "on" if c.generate_regular_invoices else "off",
            c.get_taxation_method_display(),
            c.managed_by.name if c.managed_by else "Administrator only",
            c.description,
        )
        for c in CustomerClass.objects.select_related("managed_by").order_by("name")
    ]
    print(
        table(
            [
                "ID",
                "Name",
                "Currency",
                "Archive xDRs",
                "Invoices",
                "Taxation",
                "Managed by",
                "Description",
            ],
            rows,
        )
    )
    return 0


def cmd_customer_list(args: argparse.Namespace) -> int:
    qs = Customer.objects.select_related("customer_class").order_by("name")
    if args.status:
        qs = qs.filter(status=args.status)
    else:
        qs = qs.exclude(status=Status.CLOSED)
    if args.class_id:
        qs = qs.filter(customer_class_id=args.class_id)
    if args.currency:
        qs = qs.filter(currency_id=args.currency)
    rows = []
    for c in qs[: args.limit]:
        funds = c.available_funds if c.is_prepaid else c.balance
        rows.append(
            (
                c.pk,
                c.name,
                c.customer_class.name,
                c.currency_id,
                c.get_balance_control_display(),
                funds,
                "blocked" if c.blocked else c.get_status_display(),
            )
        )
    print(
        table(
            [
                "ID",
                "Name",
                "Class",
                "Currency",
                "Balance control",
                "Balance / available funds",
                "Status",
            ],
            rows,
        )
    )
    return 0


def cmd_xdrs_import(args: argparse.Namespace) -> int:
    """Exit 0: every line imported; 1: some lines rejected (or the import stopped);
    2: nothing could be imported (file, user, header)."""
    from pathlib import Path

    from django.utils import timezone

    if args.user:
        user = User.objects.filter(username=args.user).first()
        if user is None or not user.is_active:
            print(f"error: --user: no active user named {args.user!r}", file=sys.stderr)
            return 2
    else:
        user = User.objects.filter(is_superuser=True, is_active=True).order_by("id").first()
        if user is None:
            print(
                "error: no administrator to charge as: create one (billcore createadmin) "
                "or give --user NAME",
                file=sys.stderr,
            )
            return 2
    path = Path(args.file)
    tty = sys.stderr.isatty() and not args.no_progress
    shown = False

    def clear() -> None:
        nonlocal shown
        if shown:
            sys.stderr.write("\r\x1b[K")
            shown = False

    def on_progress(p: ImportProgress) -> None:
        nonlocal shown
        if tty:
            sys.stderr.write(
                f"\r\x1b[K  {p.rows:,} rows  {p.rate:,.0f}/s  charged {p.charged:,} "
                f"denied {p.denied:,} rejected {p.rejected:,} replayed {p.replayed:,}"
            )
            sys.stderr.flush()
            shown = True

    def on_reject(r: Reject) -> None:
        clear()
        print(f"{args.file}:{r.line}: {r.error}", file=sys.stderr)

    try:
        summary = import_xdrs(
            path=path,
            actor=user,
            now_fn=timezone.now,
            on_progress=on_progress,
            reject_path=args.reject_file,
            on_reject=on_reject,
            batch=args.batch,
        )
    except ImportFailed as exc:
        clear()
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except ImportAborted as exc:
        clear()
        p = exc.progress
        print(
            f"error: the import stopped at line {exc.line}: {exc.cause}\n"
            f"{p.rows} rows before it are saved ({p.charged} charged, {p.denied} denied, "
            f"{p.rejected} rejected, {p.replayed} replayed); run the same command again to "
            "continue: lines already imported are not charged twice",
            file=sys.stderr,
        )
        return 1
    if shown:
        sys.stderr.write("\n")
    print(summary.line())
    if summary.reject_path is not None:
        print(f"Rejected lines written to {summary.reject_path}", file=sys.stderr)
    return 1 if summary.rejected else 0


def cmd_engine_run(args: argparse.Namespace) -> int:
    import json

    from django.utils import timezone

    now = args.now or timezone.now()

    steps = [s.strip() for s in args.steps.split(",") if s.strip()] if args.steps else list(STEPS)
    show = not args.no_progress and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show and (done == total or done % 100 == 0):
            print(f"\rclosing periods: {done}/{total}", end="", file=sys.stderr, flush=True)

    try:
        report = run(now=now, steps=steps, progress=progress)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if show:
        print(file=sys.stderr)
    print(json.dumps(report.as_dict(), indent=2))
    return 1 if report.errors else 0


def cmd_engine_loop(args: argparse.Namespace) -> int:
    import os
    import time

    from django.utils import timezone

    parent = int(os.environ.get("BILLCORE_ENGINE_PARENT") or os.getppid())
    print(f"billcore engine: running every {args.interval} s (Ctrl+C to stop)", flush=True)
    try:
        while not (args.exit_with_parent and os.getppid() != parent):
            try:
                report = run(now=timezone.now())
            except Exception as exc:  # a database outage: say so, try again next time
                print(f"billcore engine: run failed: {exc!r}", file=sys.stderr, flush=True)
            else:
                print(
                    f"{report.now:%Y-%m-%d %H:%M:%S}Z closed {report.periods_closed}, "
                    f"invoices {report.invoices}, steps {report.collection_steps}, "
                    f"e-mails {report.emails_sent}, errors {len(report.errors)}",
                    flush=True,
                )
            for _ in range(args.interval):  # a second at a time: notice a parent gone
                if args.exit_with_parent and os.getppid() != parent:
                    break
                time.sleep(1)
    except KeyboardInterrupt:
        return 0
    return 0
