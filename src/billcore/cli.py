"""The ``billcore`` command.

billcore serve [--host H] [--port P] [--workers N]   production server (gunicorn)
billcore migrate                                     create or upgrade the database
billcore createadmin [--username U] [--if-missing]   administrator (password printed once,
                                                     or BILLCORE_ADMIN_PASSWORD)
billcore user create|list|deactivate|password …      users (see cli_users.py)
billcore token create|list|revoke …                  API tokens (see cli_users.py)
billcore lockouts                                    user names locked out of signing in
billcore unlock USERNAME [--address A]               lift a sign-in lockout (audited)
billcore demo [--customers N]                        a realistic demo data set
billcore class list                                  customer classes as a table
billcore customer list [--class ID] [--currency C] [--status S] [--limit N]
billcore xdrs import FILE.csv [--user NAME] [--reject-file PATH] [--batch N] [--no-progress]
                                                     charge a CSV file of usage records
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Sequence
from typing import Any

from billcore.accounts.access import SystemActor
from billcore.cli_users import add_commands as add_user_commands


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billcore.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:  # a setting from the environment is wrong: say which
        raise SystemExit(f"error: {exc}") from None


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with aligned columns (numbers right-aligned)."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, v in enumerate(row):
            widths[i] = max(widths[i], len(v))
    numeric = [
        all(_is_number(row[i]) for row in cells if row[i]) and any(row[i] for row in cells)
        for i in range(len(headers))
    ]

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(row)
        ).rstrip()

    lines = [fmt(list(headers)), "  ".join("-" * w for w in widths)]
    lines += [fmt(row) for row in cells]
    return "\n".join(lines)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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

    from billcore.accounts.models import User, username_key
    from billcore.accounts.passwords import set_password
    from billcore.errors import ValidationFailed

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
    import getpass

    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return SystemActor(f"cli:{who}")


def cmd_lockouts(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from billcore.accounts.lockout import list_lockouts

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

    from billcore.accounts.lockout import unlock
    from billcore.errors import NotFound, ValidationFailed

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
    from billcore.demo import load_demo

    summary = load_demo(customers=args.customers, seed=args.seed)
    print(summary)
    return 0


def cmd_class_list(args: argparse.Namespace) -> int:
    from billcore.classes.models import CustomerClass

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
    from billcore.customers.models import Customer, Status

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

    from billcore.accounts.models import User
    from billcore.charging.importer import (
        ImportAborted,
        ImportFailed,
        ImportProgress,
        Reject,
        import_xdrs,
    )

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="billcore", description="billcore billing core")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the production web server (gunicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--access-log", action="store_true")
    p.add_argument(
        "--engine-interval",
        type=_non_negative_int,
        default=_env_int("BILLCORE_ENGINE_INTERVAL", 300),
        metavar="SECONDS",
        help="run the billing engine every SECONDS (default 300, or BILLCORE_ENGINE_INTERVAL; "
        "0: off)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="create or upgrade the database")
    p.add_argument("--verbosity", type=int, default=1)
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("createadmin", help="create the administrator")
    p.add_argument("--username", default="admin")
    p.add_argument("--if-missing", action="store_true", help="do nothing if it exists")
    p.set_defaults(func=cmd_createadmin)

    add_user_commands(sub)  # billcore user …, billcore token … (cli_users.py)

    p = sub.add_parser("lockouts", help="user names locked out of signing in, per address")
    p.set_defaults(func=cmd_lockouts)

    p = sub.add_parser("unlock", help="lift a sign-in lockout (audited)")
    p.add_argument("username")
    p.add_argument("--address", help="only from this client address (default: every address)")
    p.set_defaults(func=cmd_unlock)

    p = sub.add_parser("demo", help="load a realistic demo data set")
    p.add_argument("--customers", type=int, default=300)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("class", help="customer classes")
    csub = p.add_subparsers(dest="class_command", required=True)
    c = csub.add_parser("list")
    c.set_defaults(func=cmd_class_list)

    p = sub.add_parser("customer", help="customers")
    csub = p.add_subparsers(dest="customer_command", required=True)
    c = csub.add_parser("list")
    c.add_argument("--class", dest="class_id", type=int)
    c.add_argument("--currency")
    c.add_argument("--status")
    c.add_argument("--limit", type=int, default=100)
    c.set_defaults(func=cmd_customer_list)

    p = sub.add_parser("xdrs", help="usage records (xDRs)")
    xsub = p.add_subparsers(dest="xdrs_command", required=True)
    x = xsub.add_parser(
        "import",
        help="charge a CSV file of usage records",
        description="Charge every line of a CSV file (header row; columns account or "
        "customer, service, amount, started_at, external_id, optional quantity and unit; "
        "any other column goes into details). Importing a file again charges nothing twice.",
    )
    x.add_argument("file", metavar="FILE.csv")
    x.add_argument("--user", help="charge as this user (default: the first administrator)")
    x.add_argument(
        "--reject-file", metavar="PATH", help="rejected lines (default: FILE.rejects.csv)"
    )
    x.add_argument(
        "--batch",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="lines per database transaction, charged together (default 1000; 1: one "
        "transaction per line)",
    )
    x.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    x.set_defaults(func=cmd_xdrs_import)

    p = sub.add_parser("engine", help="the billing engine (period closing, invoices, e-mail)")
    esub = p.add_subparsers(dest="engine_command", required=True)
    e = esub.add_parser("run", help="do everything due up to now, once")
    e.add_argument(
        "--now",
        type=_timestamp,
        help="the engine's clock, e.g. 2027-02-01T00:00:00Z (default: the real time)",
    )
    e.add_argument(
        "--steps",
        default=None,
        help="comma-separated steps (default: all of them, in order)",
    )
    e.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    e.set_defaults(func=cmd_engine_run)
    e = esub.add_parser("loop", help="run the engine every --interval seconds")
    e.add_argument("--interval", type=_positive_int, default=300, metavar="SECONDS")
    e.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one is gone (billcore serve uses it)",
    )
    e.set_defaults(func=cmd_engine_loop)
    return parser


def _timestamp(text: str) -> Any:
    import datetime as dt

    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date-time (e.g. 2027-02-01T00:00:00Z)"
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone: add Z or an offset such as +01:00"
        )
    return value.astimezone(dt.UTC)


def cmd_engine_run(args: argparse.Namespace) -> int:
    import json

    from django.utils import timezone

    from billcore.engine import run

    now = args.now or timezone.now()
    from billcore.engine import STEPS

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

    from billcore.engine import run

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


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _env_int(name: str, default: int) -> int:
    import os

    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise SystemExit(f"error: {name} must be a whole number of seconds, not {text!r}")
    return int(text)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup()
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
