"""What the benchmarks share: fresh PostgreSQL databases for a run, output, peak memory."""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

R = TypeVar("R")


def with_database(url: str, name: str) -> str:
    """``url`` pointing at the database ``name`` on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def drop_postgres(server_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def fresh_postgres(server_url: str, name: str) -> str:
    """Drop and create ``name``; its URL."""
    import psycopg
    from psycopg import sql

    drop_postgres(server_url, name)
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(server_url, name)


def parse_databases(text: str) -> list[str]:
    """The ``--databases`` option: a comma-separated subset of sqlite, postgres."""
    databases = [d.strip() for d in text.split(",") if d.strip()]
    unknown = set(databases) - {"sqlite", "postgres"}
    if unknown:
        raise SystemExit(f"--databases: unknown {', '.join(sorted(unknown))} (sqlite, postgres)")
    return databases


def run_databases(
    databases: list[str],
    run_one: Callable[[str, Path], R],
    summary: Callable[[list[R]], str],
    *,
    prefix: str,
    keep: bool,
) -> int:
    """Run ``run_one`` for each database in one scratch folder, then print the summary."""
    results = []
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        for database in databases:
            results.append(run_one(database, scratch))
    finally:
        if keep:
            print(f"kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"\n== summary ({time.perf_counter() - started:.0f} s in all)\n")
    print(summary(results))
    return 0


def say(text: str) -> None:
    print(f"  {text}", flush=True)


def maxrss_mb() -> float:
    """``resource.getrusage`` maxrss of this process in MB. On Linux it survives ``execve``: a
    child reports at least the size its parent had when it forked."""
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024
