"""The real server as a subprocess, for tests that must see the product as an operator runs
it: ``billcore migrate``, ``createadmin``, ``token create`` and ``billcore serve`` (gunicorn)
on a free port, with a database of its own (a temporary SQLite file, or a fresh PostgreSQL
database on the server of this test run's ``DATABASE_URL``) and the environment the test
gives, never settings overridden inside the test process."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ADMIN_PASSWORD = "e2e-Admin-pass-9271"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def database_url(tmp: Path) -> Iterator[str]:
    """A new, empty database of the kind this test run uses, dropped afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp / 'server.sqlite3'}"
        return
    import psycopg

    base = url.replace("postgresql://", "postgres://")
    name = f"billcore_e2e_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def billcore(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billcore.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def environment(tmp: Path, db_url: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BILLCORE_") and k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DATABASE_URL=db_url,
        BILLCORE_VAR_DIR=str(tmp / "var"),
        BILLCORE_SECRET_KEY="e2e-" + "k" * 60,
        BILLCORE_ADMIN_PASSWORD=ADMIN_PASSWORD,
        BILLCORE_ENGINE_INTERVAL="0",
    )
    env.update(extra)
    return env


class Server:
    """A running ``billcore serve`` and an API client with an administrator's token."""

    def __init__(self, base: str, token: str, process: subprocess.Popen[str]) -> None:
        self.base = base
        self.token = token
        self.process = process

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + "/api/v1" + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            status = exc.code
        return status, (json.loads(raw) if raw else None)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        got, reply = self.call(method, path, body)
        assert got == status, (method, path, got, reply)
        return reply


@contextlib.contextmanager
def serve(env: dict[str, str]) -> Iterator[Server]:
    """Migrate, create the administrator and its token, serve; stopped afterwards."""
    for argv in (("migrate", "--verbosity", "0"), ("createadmin",)):
        done = billcore(env, *argv)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
    done = billcore(env, "token", "create", "--user", "admin")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    port = _free_port()
    log_path = Path(env["BILLCORE_VAR_DIR"]) / "serve.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "billcore.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
            "--engine-interval",
            "0",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = Server(f"http://127.0.0.1:{port}", token, process)
    try:
        for _ in range(600):  # up to a minute for gunicorn to listen
            if process.poll() is not None:
                output = log_path.read_text()
                raise AssertionError(f"billcore serve exited {process.returncode}: {output}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("billcore serve did not listen within a minute")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
