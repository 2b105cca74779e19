"""``billcore nas add|list|remove`` and ``billcore radius`` (issue 15; arguments in
``cli/network_args.py``)."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

from django.utils import timezone

from billcore.accounts.access import CLI
from billcore.charging.network import (
    counters,
    create_nas_client,
    masked,
    nas_clients,
    remove_nas_client,
)
from billcore.cli.base import emit
from billcore.cli.network_args import SECRET_ENV
from billcore.errors import BillcoreError


def _fail(exc: BillcoreError) -> int:
    field = f" ({exc.field})" if getattr(exc, "field", None) else ""
    print(f"error{field}: {exc}", file=sys.stderr)
    return 2


def cmd_nas_add(args: argparse.Namespace) -> int:
    secret = args.secret if args.secret is not None else os.environ.get(SECRET_ENV)
    try:
        obj = create_nas_client(
            actor=CLI,
            now=timezone.now(),
            data={
                "name": args.name,
                "address": args.address,
                "secret": secret,
                "description": args.description,
            },
        )
    except BillcoreError as exc:
        return _fail(exc)
    print(f"NAS client {obj.pk} {obj.name} at {obj.address} added")
    return 0


def cmd_nas_list(args: argparse.Namespace) -> int:
    rows = nas_clients(actor=CLI)
    headers = ["ID", "Name", "Address", "Secret", "Description"]
    table_rows = [(n.pk, n.name, n.address, masked(n.secret), n.description) for n in rows]
    records = [
        {"id": n.pk, "name": n.name, "address": n.address, "description": n.description}
        for n in rows
    ]
    print(emit(args.format, headers, table_rows, records))
    if args.format == "table":
        counts = counters(actor=CLI, prefix="radius.")
        if counts:
            print()
            print("  ".join(f"{k.removeprefix('radius.')}={v}" for k, v in counts.items()))
    return 0


def cmd_nas_remove(args: argparse.Namespace) -> int:
    try:
        remove_nas_client(actor=CLI, now=timezone.now(), ref=args.nas)
    except BillcoreError as exc:
        return _fail(exc)
    print(f"NAS client {args.nas} removed")
    return 0


def cmd_radius(args: argparse.Namespace) -> int:
    from billcore.network.radius.server import RadiusConfig, RadiusServer

    config = RadiusConfig(
        host=args.radius_host,
        auth_port=args.auth_port,
        acct_port=args.acct_port,
        workers=args.radius_workers,
    )
    server = RadiusServer(config).start_in_thread()
    auth, acct = server.bound
    print(
        f"billcore radius: listening on {config.host} auth {auth} acct {acct} (Ctrl+C to stop)",
        flush=True,
    )
    parent = int(os.environ.get("BILLCORE_RADIUS_PARENT") or os.getppid())
    stop = threading.Event()
    try:
        while not stop.is_set():
            if args.exit_with_parent and os.getppid() != parent:
                break
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
