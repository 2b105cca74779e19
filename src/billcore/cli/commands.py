"""The ``billcore`` commands other than users and tokens (see ``billcore.cli`` for the list).
Loaded by ``billcore.cli.main`` after ``django.setup()``, so models import at module level."""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from typing import Any

from billcore.accounts.access import CLI, SystemActor
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
from billcore.cli.base import emit, more_rows_note, table
from billcore.core.money import format_money
from billcore.customers.models import Status
from billcore.customers.selectors import get_customer, list_customers
from billcore.demo import load_demo
from billcore.engine.models import Trigger
from billcore.engine.steps import STEPS, engine_clock, run
from billcore.errors import BillcoreError, NotFound, ValidationFailed
from billcore.installation.models import Currency
from billcore.invoicing.models import Invoice, InvoiceStatus
from billcore.invoicing.selectors import customer_invoices, visible_invoices


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
        # The measured-services sampler beside the engine (issue 14), stopped with the server.
        sampler = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "billcore.cli", "measured", "loop", "--exit-with-parent"],
            env={**os.environ, "BILLCORE_ENGINE_PARENT": str(os.getpid())},
        )
        atexit.register(sampler.terminate)
    if args.radius:
        import atexit
        import subprocess

        # The RADIUS server beside the web server, supervised like the engine (issue 15).
        radius = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "billcore.cli",
                "radius",
                "--radius-host",
                args.radius_host,
                "--auth-port",
                str(args.auth_port),
                "--acct-port",
                str(args.acct_port),
                "--radius-workers",
                str(args.radius_workers),
                "--exit-with-parent",
            ],
            env={**os.environ, "BILLCORE_RADIUS_PARENT": str(os.getpid())},
        )
        atexit.register(radius.terminate)
    from billcore.cli.diameter import start_beside_server

    if start_beside_server(args) is not None:
        print("diameter: Gy server started beside (billcore diameter)", flush=True)
    print(f"billcore serving on http://{args.host}:{args.port}/ (Ctrl+C to stop)", flush=True)
    if engine is not None:
        print(f"billing engine: every {args.engine_interval} s (--engine-interval 0: off)")
        print("measured-services sampler: beside the engine (its slots: 5 min, 1 day)")
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


def _bad_choice(option: str, value: str, valid: list[str], what: str) -> int:
    print(
        f"error: {option}: {value!r} is not {what}; choose from {', '.join(valid)}",
        file=sys.stderr,
    )
    return 2


def _plain(text: str, fmt: str) -> str:
    """Money for CSV and JSON: the same places as the table, without thousands commas."""
    return text if fmt == "table" else text.replace(",", "")


def _print_page(fmt: str, what: str, out: str, *, total: int, offset: int, shown: int) -> None:
    print(out)
    note = more_rows_note(what, total=total, offset=offset, shown=shown)
    if note:
        sys.stdout.flush()
        print(note, file=sys.stderr)


def cmd_customer_list(args: argparse.Namespace) -> int:
    """Exit 0: listed; 2: a filter names nothing that exists (the option and the valid
    values are named)."""
    if args.status and args.status not in Status.values:
        return _bad_choice("--status", args.status, list(Status.values), "a customer status")
    if args.class_id and not CustomerClass.objects.filter(pk=args.class_id).exists():
        print(f"error: --class: no customer class {args.class_id}", file=sys.stderr)
        return 2
    if args.currency:
        codes = list(Currency.objects.order_by("code").values_list("code", flat=True))
        if args.currency.upper() not in codes:
            return _bad_choice("--currency", args.currency, codes, "a currency in use")
    qs = list_customers(
        actor=CLI,
        status=args.status or None,
        customer_class=args.class_id,
        currency=args.currency.upper() if args.currency else None,
    ).select_related("customer_class", "currency")
    total = qs.count()
    page = list(qs[args.offset : args.offset + args.limit])
    fmt = args.format
    rows, records = [], []
    for c in page:
        funds = c.available_funds if c.is_prepaid else c.balance
        money = _plain(format_money(funds, c.currency.decimals), fmt)
        status = "blocked" if c.blocked else c.get_status_display()
        rows.append(
            (
                c.pk,
                c.name,
                c.customer_class.name,
                c.currency_id,
                c.get_balance_control_display(),
                money,
                status,
            )
        )
        records.append(
            {
                "id": c.pk,
                "name": c.name,
                "class": c.customer_class.name,
                "class_id": c.customer_class_id,
                "currency": c.currency_id,
                "balance_control": c.balance_control,
                "balance_or_available_funds": money,
                "status": c.status,
                "blocked": c.blocked,
            }
        )
    headers = [
        "ID",
        "Name",
        "Class",
        "Currency",
        "Balance control",
        "Balance / available funds",
        "Status",
    ]
    out = emit(fmt, headers, rows, records)
    _print_page(fmt, "customers", out, total=total, offset=args.offset, shown=len(page))
    return 0


def cmd_customer_show(args: argparse.Namespace) -> int:
    """Exit 0: shown; 1: no such customer."""
    try:
        c = get_customer(actor=CLI, customer_id=args.id)
    except NotFound:
        print(f"error: customer {args.id} not found", file=sys.stderr)
        return 1
    decimals = c.currency.decimals

    def money(value: Any) -> str:
        return "" if value is None else _plain(format_money(value, decimals), args.format)

    def stamp(value: Any) -> str:
        return "" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"

    unpaid = Invoice.objects.filter(customer_id=c.pk).exclude(status=InvoiceStatus.PAID)
    fields: list[tuple[str, str, Any]] = [
        ("id", "ID", c.pk),
        ("name", "Name", c.name),
        ("company_name", "Company", c.company_name),
        ("email", "E-mail", c.email),
        ("customer_type", "Type", c.get_customer_type_display()),
        ("class", "Class", f"{c.customer_class.name} (ID {c.customer_class_id})"),
        ("reseller", "Reseller", f"{c.reseller.name} (ID {c.reseller_id})" if c.reseller else ""),
        ("currency", "Currency", c.currency_id),
        ("balance_control", "Balance control", c.get_balance_control_display()),
        ("balance", "Balance", money(c.balance)),
        ("available_funds", "Available funds", money(c.available_funds)),
        (
            "credit_limit",
            "Credit limit",
            "" if c.is_prepaid else (money(c.credit_limit) or "no limit"),
        ),
        ("status", "Status", c.get_status_display()),
        ("blocked", "Blocked", "yes" if c.blocked else "no"),
        ("billed_to", "Billed to", stamp(c.billed_to)),
        ("next_billed_to", "Open period ends", stamp(c.next_billed_to)),
        ("unpaid_invoices", "Unpaid invoices", unpaid.count()),
        ("created_at", "Created", stamp(c.created_at)),
    ]
    if args.format == "json":
        import json

        record = {key: value for key, _, value in fields}
        record.update(status=c.status, blocked=c.blocked, balance_control=c.balance_control)
        print(json.dumps(record, indent=2, ensure_ascii=False))
        return 0
    width = max(len(label) for _, label, _ in fields)
    for _, label, value in fields:
        print(f"{label:<{width}}  {value}".rstrip())
    return 0


def cmd_invoice_list(args: argparse.Namespace) -> int:
    """Exit 0: listed; 1: no such customer; 2: an unknown status (the valid ones named)."""
    if args.status and args.status not in InvoiceStatus.values:
        return _bad_choice("--status", args.status, list(InvoiceStatus.values), "an invoice status")
    if args.customer is not None:
        try:
            qs = customer_invoices(actor=CLI, customer_id=args.customer)
        except NotFound:
            print(f"error: --customer: customer {args.customer} not found", file=sys.stderr)
            return 1
    else:
        qs = visible_invoices(actor=CLI)
    if args.status:
        qs = qs.filter(status=args.status)
    total = qs.count()
    page = list(qs.select_related("customer")[args.offset : args.offset + args.limit])
    fmt = args.format
    rows, records = [], []
    for inv in page:

        def money(value: Any, inv: Invoice = inv) -> str:
            return _plain(format_money(value, inv.decimals), fmt)

        rows.append(
            (
                inv.pk,
                inv.number,
                f"{inv.issued_at:%Y-%m-%d}",
                f"{inv.due_at:%Y-%m-%d}",
                inv.customer.name,
                inv.get_kind_display(),
                inv.get_status_display(),
                inv.currency,
                money(inv.total),
                money(inv.amount_due),
            )
        )
        records.append(
            {
                "id": inv.pk,
                "number": inv.number,
                "issued_at": inv.issued_at.isoformat(),
                "due_at": inv.due_at.isoformat(),
                "customer_id": inv.customer_id,
                "customer": inv.customer.name,
                "kind": inv.kind,
                "status": inv.status,
                "currency": inv.currency,
                "total": money(inv.total),
                "amount_due": money(inv.amount_due),
            }
        )
    headers = [
        "ID",
        "Number",
        "Issued",
        "Due",
        "Customer",
        "Kind",
        "Status",
        "Currency",
        "Total",
        "Amount due",
    ]
    out = emit(fmt, headers, rows, records)
    _print_page(fmt, "invoices", out, total=total, offset=args.offset, shown=len(page))
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

    try:
        # The API's rule: the engine's clock moves only in test mode (engine_clock).
        now = engine_clock(now=timezone.now(), clock=args.now)
    except BillcoreError as exc:
        print(f"error: --{exc.message}", file=sys.stderr)
        return 2

    steps = [s.strip() for s in args.steps.split(",") if s.strip()] if args.steps else list(STEPS)
    show = not args.no_progress and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show and (done == total or done % 100 == 0):
            print(f"\rclosing periods: {done}/{total}", end="", file=sys.stderr, flush=True)

    try:
        report = run(
            now=now,
            steps=steps,
            progress=progress,
            trigger=Trigger.CLI,
            started_by=_command_line_actor().username,
        )
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
                report = run(
                    now=timezone.now(),
                    trigger=Trigger.SCHEDULER,
                    started_by=f"engine loop (pid {os.getpid()})",
                    interval_seconds=args.interval,
                )
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
