"""The ``billcore`` command.

billcore serve [--host H] [--port P] [--workers N]   production server (gunicorn)
billcore migrate                                     create or upgrade the database
billcore createadmin [--username U] [--if-missing]   administrator (password printed once,
                                                     or BILLCORE_ADMIN_PASSWORD)
billcore user create|list|deactivate|password …      users (see cli/users.py)
billcore token create|list|revoke …                  API tokens (see cli/users.py)
billcore lockouts                                    user names locked out of signing in
billcore unlock USERNAME [--address A]               lift a sign-in lockout (audited)
billcore demo [--customers N]                        a realistic demo data set
billcore class list                                  customer classes as a table
billcore customer list [--class ID] [--currency C] [--status S] [--limit N] [--offset N]
                      [--format table|json|csv]   customers (says when more exist)
billcore customer show ID [--format table|json]      one customer
billcore invoice list [--customer ID] [--status S] [--limit N] [--offset N]
                      [--format table|json|csv]   invoices, newest first
billcore engine run [--now T] [--steps S]            the engine once (--now: test mode only)
billcore engine loop [--interval SECONDS]            the engine on a schedule
billcore xdrs import FILE.csv [--user NAME] [--reject-file PATH] [--batch N] [--no-progress]
                                                     charge a CSV file of usage records
billcore rates import TARIFF FILE.csv [--replace] [--reject-file PATH] [--user NAME]
                      [--no-progress]             merge a CSV price list into a tariff
billcore dids import FILE.csv [--currency C] [--user NAME]  numbers into the DID inventory
billcore rates export TARIFF [FILE|-] [--user NAME]  a tariff's rates as CSV (see cli/rating.py)
billcore rates rerate --customer ID | --tariff T     re-rate the open period after a correction
billcore plans list|show PLAN [--format table|json]  discount plans (see cli/plans.py)
billcore plans assign PLAN --product ID|--account ID|--customer ID [--from T] [--to T]
billcore plans unassign ASSIGNMENT                   end a plan's assignment now
billcore nas add|list|remove …, billcore radius …     NAS clients, RADIUS (cli/network_args.py)
billcore diameter [--port P] [--peer ORIGIN_HOST]…   Diameter Gy server (serve --diameter)
billcore measured sample [--now T]                  measured services: take the samples due now
billcore measured loop [--interval SECONDS]          … every SECONDS (billcore serve starts it)
billcore rate --account A --cld NUMBER --duration S [--service voice] [--at ISO]
              [--access-code X] [--format table|json]   price a session (nothing charged)
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from billcore.cli import diameter as diameter_cli
from billcore.cli.base import PASSWORD_ENV
from billcore.cli.network_args import add_network_commands, add_radius_arguments


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billcore.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:  # a setting from the environment is wrong: say which
        raise SystemExit(f"error: {exc}") from None


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
    p.add_argument("--radius", action="store_true", help="run the RADIUS server beside it")
    add_radius_arguments(p)
    p.add_argument("--diameter", action="store_true", help="also run `billcore diameter`")
    p.add_argument("--diameter-port", type=int, default=0, metavar="PORT")
    p.set_defaults(func="commands.cmd_serve")

    p = sub.add_parser("migrate", help="create or upgrade the database")
    p.add_argument("--verbosity", type=int, default=1)
    p.set_defaults(func="commands.cmd_migrate")

    p = sub.add_parser("createadmin", help="create the administrator")
    p.add_argument("--username", default="admin")
    p.add_argument("--if-missing", action="store_true", help="do nothing if it exists")
    p.set_defaults(func="commands.cmd_createadmin")

    _add_user_commands(sub)  # billcore user …, billcore token … (cli/users.py)

    p = sub.add_parser("lockouts", help="user names locked out of signing in, per address")
    p.set_defaults(func="commands.cmd_lockouts")

    p = sub.add_parser("unlock", help="lift a sign-in lockout (audited)")
    p.add_argument("username")
    p.add_argument("--address", help="only from this client address (default: every address)")
    p.set_defaults(func="commands.cmd_unlock")

    p = sub.add_parser("demo", help="load a realistic demo data set")
    p.add_argument("--customers", type=int, default=300)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func="commands.cmd_demo")

    p = sub.add_parser("class", help="customer classes")
    csub = p.add_subparsers(dest="class_command", required=True)
    c = csub.add_parser("list")
    c.set_defaults(func="commands.cmd_class_list")

    p = sub.add_parser("customer", help="customers")
    csub = p.add_subparsers(dest="customer_command", required=True)
    c = csub.add_parser(
        "list",
        help="customers, by name (permanently terminated ones only with --status closed)",
        description="Customers by name, --limit at a time from --offset; says on stderr when "
        "more exist. Money in the currency's decimals.",
    )
    c.add_argument("--class", dest="class_id", type=_id, metavar="ID", help="a class's id")
    c.add_argument("--currency", metavar="CODE", help="e.g. USD")
    c.add_argument(
        "--status",
        help="open, suspended, provisionally_terminated, closed (permanently terminated), exported",
    )
    _add_paging(c)
    c.set_defaults(func="commands.cmd_customer_list")
    c = csub.add_parser("show", help="one customer: its settings, balance and status")
    c.add_argument("id", type=_id, metavar="ID")
    c.add_argument("--format", choices=("table", "json"), default="table")
    c.set_defaults(func="commands.cmd_customer_show")

    p = sub.add_parser("invoice", help="invoices")
    isub = p.add_subparsers(dest="invoice_command", required=True)
    i = isub.add_parser(
        "list",
        help="invoices, newest first",
        description="Invoices, newest first, --limit at a time from --offset; says on stderr "
        "when more exist. Money in the invoice's currency decimals.",
    )
    i.add_argument("--customer", type=_id, metavar="ID", help="one customer's invoices")
    i.add_argument("--status", help="issued, partly_paid, paid, overdue, … (see the error)")
    _add_paging(i)
    i.set_defaults(func="commands.cmd_invoice_list")

    p = sub.add_parser(
        "rate",
        help="price a session and the longest one the account affords now (nothing charged)",
        description="Tariff, rate prefix, price set, charged quantity, amount and the maximum "
        "duration the account affords now. Exit 1 when refused (the reason is printed).",
    )
    p.add_argument("--account", required=True, help="account id or identifier")
    p.add_argument("--cld", required=True, metavar="NUMBER", help="the called number")
    p.add_argument("--duration", required=True, metavar="S", help="seconds (the quantity)")
    p.add_argument("--service", default="voice", help="service code (default voice)")
    p.add_argument("--at", metavar="ISO", help="start instant, ISO 8601 (default now)")
    p.add_argument("--access-code", default="", metavar="X", help="INCOMING, FOLLOWME, …")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func="rating_quote.cmd_rate")

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
    x.set_defaults(func="commands.cmd_xdrs_import")

    _add_rates_commands(sub)  # billcore rates import|export (cli/rating.py)
    _add_plans_commands(sub)  # billcore plans list|show|assign|unassign (cli/plans.py)
    add_network_commands(sub)  # billcore nas …, billcore radius (cli/network_args.py)

    p = sub.add_parser("diameter", help="the Diameter Gy credit-control server (cli/diameter.py)")
    diameter_cli.add_arguments(p)
    p.set_defaults(func="diameter.cmd_diameter")
    _add_dids_commands(sub)  # billcore dids import (cli/dids.py)

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
    e.set_defaults(func="commands.cmd_engine_run")
    e = esub.add_parser("loop", help="run the engine every --interval seconds")
    e.add_argument("--interval", type=_positive_int, default=300, metavar="SECONDS")
    e.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one is gone (billcore serve uses it)",
    )
    e.set_defaults(func="commands.cmd_engine_loop")
    _add_measured_commands(sub)  # billcore measured sample|loop (cli/measured.py)
    return parser


def _add_measured_commands(sub: Any) -> None:
    """The measured-services sampler (issue 14): once, or on a schedule."""
    p = sub.add_parser("measured", help="measured services: the sampler")
    msub = p.add_subparsers(dest="measured_command", required=True)
    m = msub.add_parser(
        "sample",
        help="take the samples of the current slots (5-minute for active calls, daily for "
        "concurrent calls and PBX extensions); a slot already read is not read again",
    )
    m.add_argument(
        "--now",
        type=_timestamp,
        help="the sampler's clock (test mode only, as the engine's), e.g. 2027-02-01T10:00:00Z",
    )
    m.set_defaults(func="measured.cmd_measured_sample")
    m = msub.add_parser("loop", help="take the samples due every --interval seconds")
    m.add_argument("--interval", type=_positive_int, default=60, metavar="SECONDS")
    m.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one is gone (billcore serve uses it)",
    )
    m.set_defaults(func="measured.cmd_measured_loop")


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


def _add_user_commands(sub: Any) -> None:
    """The ``user`` and ``token`` sub-commands of ``billcore``."""
    p = sub.add_parser("user", help="users: administrators and resellers' users")
    usub = p.add_subparsers(dest="user_command", required=True)
    u = usub.add_parser(
        "create",
        help="create a user",
        description=f"The password is {PASSWORD_ENV} when set, else a generated one, printed once.",
    )
    u.add_argument("username")
    u.add_argument("--reseller", type=_id, help="the reseller's customer id (default: none, "
                   "an administrator)")  # fmt: skip
    u.add_argument("--email", default="")
    u.add_argument("--first-name", default="")
    u.add_argument("--last-name", default="")
    u.set_defaults(func="users.cmd_user_create")
    u = usub.add_parser("list", help="users as a table (active ones unless --all)")
    u.add_argument("--reseller", type=_id, help="only this reseller's users")
    u.add_argument("--administrators", action="store_true", help="only administrators")
    u.add_argument("--all", action="store_true", help="deactivated users too")
    u.set_defaults(func="users.cmd_user_list")
    u = usub.add_parser("deactivate", help="the user can no longer sign in or use its tokens")
    u.add_argument("username")
    u.set_defaults(func="users.cmd_user_deactivate")
    u = usub.add_parser(
        "password",
        help="set a user's password",
        description=f"The password is {PASSWORD_ENV} when set, else a generated one, printed once.",
    )
    u.add_argument("username")
    u.set_defaults(func="users.cmd_user_password")

    p = sub.add_parser("token", help="API tokens")
    tsub = p.add_subparsers(dest="token_command", required=True)
    t = tsub.add_parser("create", help="create a token and print it (only it)")
    t.add_argument("--user", required=True)
    t.add_argument("--name", default="cli")
    t.add_argument(
        "--expires-in",
        metavar="90d|12h",
        help="lifetime in days or hours (default: BILLCORE_TOKEN_DEFAULT_EXPIRY_DAYS, 90)",
    )
    t.set_defaults(func="users.cmd_token_create")
    t = tsub.add_parser("list", help="tokens with their last use and expiry")
    t.add_argument("--user", help="only this user's tokens")
    t.set_defaults(func="users.cmd_token_list")
    t = tsub.add_parser("revoke", help="revoke a token (it stops working)")
    t.add_argument("id", type=_id)
    t.set_defaults(func="users.cmd_token_revoke")


def _add_dids_commands(sub: Any) -> None:
    """The ``dids`` sub-commands of ``billcore`` (issue 14)."""
    p = sub.add_parser("dids", help="the DID inventory: CSV upload")
    dsub = p.add_subparsers(dest="dids_command", required=True)
    r = dsub.add_parser(
        "import",
        help="add or update numbers from a CSV file",
        description="Header row: number, vendor_batch (required), activation_cost, "
        "periodic_cost, currency, country, area, description, free_of_charge, group, "
        "pricing_batch, frozen. Good lines are saved, refused ones reported with their "
        "line number; importing the same file again changes nothing.",
    )
    r.add_argument("file", metavar="FILE.csv")
    r.add_argument("--currency", help="currency of lines without one (ISO 4217)")
    r.add_argument("--user", help="act as this user (default: the first administrator)")
    r.set_defaults(func="dids.cmd_dids_import")


def _add_rates_commands(sub: Any) -> None:
    """The ``rates`` sub-commands of ``billcore``: a tariff's price list as CSV."""
    p = sub.add_parser("rates", help="a tariff's rates: CSV upload and download")
    rsub = p.add_subparsers(dest="rates_command", required=True)
    r = rsub.add_parser(
        "import",
        help="merge a CSV price list into a tariff",
        description="Merge the rates of a CSV file (header row: prefix, interval_first, "
        "interval_next, price_first, price_next, effective_from; optional off-peak sets and "
        "forbidden, discontinued, hidden) into TARIFF, keyed by (prefix, effective_from); "
        "importing the same file again changes nothing. Exit 1 when lines were rejected "
        "(the others are saved), 2 when nothing could be imported.",
    )
    r.add_argument("tariff", metavar="TARIFF", help="the tariff's id, or else its exact name")
    r.add_argument("file", metavar="FILE.csv")
    r.add_argument(
        "--replace",
        action="store_true",
        help="discontinue the tariff's prefixes absent from the file, from its earliest "
        "effective_from",
    )
    r.add_argument(
        "--reject-file",
        metavar="PATH",
        help="rejected lines as CSV: line, field, reason (default: FILE.rejects.csv)",
    )
    r.add_argument("--user", help="act as this user (default: the first administrator)")
    r.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    r.set_defaults(func="rating.cmd_rates_import")
    r = rsub.add_parser(
        "export",
        help="a tariff's rates as CSV (the import's format)",
        description="Write TARIFF's rates as CSV, every version, ordered by prefix and "
        "effective_from; the file imports back unchanged.",
    )
    r.add_argument("tariff", metavar="TARIFF", help="the tariff's id, or else its exact name")
    r.add_argument("file", metavar="FILE", nargs="?", default="-", help="default: - (stdout)")
    r.add_argument("--user", help="act as this user (default: the first administrator)")
    r.set_defaults(func="rating.cmd_rates_export")
    r = rsub.add_parser(
        "rerate",
        help="re-rate the open period after a rate correction",
        description="Price again the usage of the open period (a period awaiting approval "
        "counts as open) of one customer (--customer) or of every customer a tariff prices "
        "(--tariff): each difference is posted as its own ledger row; usage denied for want "
        "of a rate is charged if it now has one. Closed periods are never touched.",
    )
    target = r.add_mutually_exclusive_group(required=True)
    target.add_argument("--customer", type=_id, metavar="ID", help="the customer's id")
    target.add_argument("--tariff", metavar="TARIFF", help="the tariff's id, or else its name")
    r.add_argument("--user", help="act as this user (default: the first administrator)")
    r.set_defaults(func="rating.cmd_rates_rerate")


def _add_plans_commands(sub: Any) -> None:
    p = sub.add_parser("plans", help="volume discount plans (discounts, quotas, wallets)")
    psub = p.add_subparsers(dest="plans_command", required=True)
    r = psub.add_parser("list", help="the discount plans")
    r.add_argument("--search", help="part of a name or description")
    r.add_argument("--format", choices=("table", "json"), default="table")
    r.add_argument("--user", help="act as this user (default: the first administrator)")
    r.set_defaults(func="plans.cmd_plans_list")
    r = psub.add_parser("show", help="one plan: its rules, bands and assignments")
    r.add_argument("plan", metavar="PLAN", help="the plan's id, or else its exact name")
    r.add_argument("--format", choices=("table", "json"), default="table")
    r.add_argument("--user", help="act as this user (default: the first administrator)")
    r.set_defaults(func="plans.cmd_plans_show")
    r = psub.add_parser("assign", help="assign a published plan to a product, account or customer")
    r.add_argument("plan", metavar="PLAN", help="the plan's id, or else its exact name")
    target = r.add_mutually_exclusive_group(required=True)
    target.add_argument("--product", type=_id, metavar="ID")
    target.add_argument("--account", type=_id, metavar="ID")
    target.add_argument("--customer", type=_id, metavar="ID")
    r.add_argument("--from", dest="valid_from", metavar="T", help="ISO date-time (default: now)")
    r.add_argument("--to", dest="valid_to", metavar="T", help="ISO date-time (default: open)")
    r.add_argument("--user", help="act as this user (default: the first administrator)")
    r.set_defaults(func="plans.cmd_plans_assign")
    r = psub.add_parser("unassign", help="end an assignment now")
    r.add_argument("assignment", type=_id, metavar="ASSIGNMENT", help="the assignment's id")
    r.add_argument("--user", help="act as this user (default: the first administrator)")
    r.set_defaults(func="plans.cmd_plans_unassign")


def _add_paging(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--limit", type=_positive_int, default=100, metavar="N", help="rows (default 100)"
    )
    p.add_argument(
        "--offset", type=_non_negative_int, default=0, metavar="N", help="rows to skip first"
    )
    p.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="default: table"
    )


def _id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
        raise argparse.ArgumentTypeError(f"{text!r} is not an id")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        _setup()
        # The command modules import Django models, which exist only after django.setup():
        # they are loaded here, by name, once the arguments are parsed and Django is set up.
        module_name, function = args.func.split(".")
        command = getattr(importlib.import_module(f"billcore.cli.{module_name}"), function)
        code = int(command(args))
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``billcore customer list | head``): stop quietly, as any
        # Unix tool does. Python would flush stdout again at exit and print a trace: point
        # it at /dev/null first.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool a pipe stopped
    return code


if __name__ == "__main__":
    sys.exit(main())
