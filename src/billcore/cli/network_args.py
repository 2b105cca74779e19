"""The arguments of ``billcore nas …`` and ``billcore radius`` (issue 15); no Django import
(the parser is built before Django is set up). The commands are in ``cli/network.py``.

billcore nas add NAME ADDRESS [--secret S | BILLCORE_NAS_SECRET] [--description D]
billcore nas list [--format table|json|csv]          NAS clients (secrets masked)
billcore nas remove NAME|ADDRESS|ID                   stop serving a NAS
billcore radius [--host H] [--auth-port P] [--acct-port P] [--workers N]
                                                      the RADIUS server (1812/1813)
"""

from __future__ import annotations

from typing import Any

SECRET_ENV = "BILLCORE_NAS_SECRET"


def _port(text: str) -> int:
    import argparse

    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535)")
    return int(text)


def add_radius_arguments(p: Any) -> None:
    """The RADIUS server's options (``billcore radius`` and ``billcore serve --radius``)."""
    p.add_argument("--radius-host", default="0.0.0.0", help="address to listen on")  # noqa: S104
    p.add_argument("--auth-port", type=_port, default=1812, help="default 1812")
    p.add_argument("--acct-port", type=_port, default=1813, help="default 1813")
    p.add_argument("--radius-workers", type=int, default=16, help="threads answering (16)")


def add_network_commands(sub: Any) -> None:
    p = sub.add_parser("nas", help="NAS clients: the network elements allowed to ask (RADIUS)")
    nsub = p.add_subparsers(dest="nas_command", required=True)
    n = nsub.add_parser("add", help="add a NAS client (address + shared secret)")
    n.add_argument("name")
    n.add_argument("address", help="the NAS's IP address, as its packets arrive from")
    n.add_argument(
        "--secret",
        help=f"the RADIUS shared secret (else the environment variable {SECRET_ENV})",
    )
    n.add_argument("--description", default="")
    n.set_defaults(func="network.cmd_nas_add")
    n = nsub.add_parser("list", help="NAS clients (secrets masked) and the drop counters")
    n.add_argument("--format", choices=("table", "json", "csv"), default="table")
    n.set_defaults(func="network.cmd_nas_list")
    n = nsub.add_parser("remove", help="remove a NAS client: its packets are dropped")
    n.add_argument("nas", help="name, address or id")
    n.set_defaults(func="network.cmd_nas_remove")

    p = sub.add_parser("radius", help="run the RADIUS server (authorisation and accounting)")
    add_radius_arguments(p)
    p.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one is gone (billcore serve uses it)",
    )
    p.set_defaults(func="network.cmd_radius")
