"""``billcore serve --diameter`` as an operator runs it (issue 15 §2): the Diameter server
starts beside the web server as its own process on a database of its own, answers the Erlang
peer's Capabilities-Exchange and a CCR (an unknown subscriber: 5030), refuses an Origin-Host
that is not in BILLCORE_DIAMETER_PEERS, and stops with the web server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from billcore.network.diameter import codec
from tests.e2e.diameter_support import RawPeer, ccr, otp_peer, result_code, run_otp_peer
from tests.e2e.server import _free_port, billcore, database_url, environment

__all__ = ["otp_peer"]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _counters(port: int, token: str) -> dict[str, int]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/nas/counters",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return dict(json.loads(response.read()))


def test_serve_with_diameter(tmp_path: Path, otp_peer: Path) -> None:
    with database_url(tmp_path) as url:
        env = environment(
            tmp_path,
            url,
            BILLCORE_DIAMETER_PEERS="otp.peer,raw.peer",
            BILLCORE_DIAMETER_ORIGIN_HOST="ocs.billcore.test",
        )
        for argv in (("migrate", "--verbosity", "0"), ("createadmin",)):
            done = billcore(env, *argv)
            assert done.returncode == 0, (argv, done.stderr)
        done = billcore(env, "token", "create", "--user", "admin")
        assert done.returncode == 0, done.stderr
        token = done.stdout.strip()
        web, gy = _free_port(), _free_port()
        log_path = tmp_path / "serve.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "billcore.cli",
                    "serve",
                    "--port",
                    str(web),
                    "--workers",
                    "1",
                    "--engine-interval",
                    "0",
                    "--diameter",
                    "--diameter-port",
                    str(gy),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                for _ in range(600):
                    assert process.poll() is None, log_path.read_text()
                    if _listening(gy):
                        break
                    time.sleep(0.1)
                else:
                    raise AssertionError(f"no Diameter server: {log_path.read_text()}")
                events = run_otp_peer(
                    otp_peer,
                    gy,
                    [ccr("otp.peer;cli;1", 1, 0, subscriber="404", called="4420", requested={})],
                )
                assert events[0] == {"event": "up"}
                answer = events[1]["msg"]
                assert (answer["Result-Code"], answer["Origin-Host"]) == (
                    5030,
                    "ocs.billcore.test",
                )
                stranger = RawPeer(gy)
                assert result_code(stranger.cer("stranger.example")) == codec.UNKNOWN_PEER
                stranger.close()
                friend = RawPeer(gy)
                assert result_code(friend.cer("raw.peer")) == 2001
                assert result_code(friend.dwr()) == 2001
                friend.close()
                # The counters reach the database within a second or two: the API shows them.
                counts: dict[str, int] = {}
                for _ in range(50):
                    counts = _counters(web, token)
                    if counts.get("diameter.refused.unknown_peer") == 1:
                        break
                    time.sleep(0.2)
                assert counts["diameter.refused.unknown_peer"] == 1
                assert counts["diameter.answered.5030"] == 1
                assert counts["diameter.dwr"] >= 1
            finally:
                process.terminate()
                process.wait(timeout=30)
            # The Diameter server stops with the web server.
            for _ in range(100):
                if not _listening(gy):
                    break
                time.sleep(0.1)
            else:
                raise AssertionError("the Diameter server outlived billcore serve")
        output = log_path.read_text()
        assert f"Gy on 127.0.0.1:{gy} as ocs.billcore.test" in output
        assert "accepting otp.peer, raw.peer" in output or "accepting raw.peer, otp.peer" in output
