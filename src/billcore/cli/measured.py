"""``billcore measured sample|loop``: the measured-services sampler (``measured.sampler``)
once (for cron; ``--now`` moves its clock in test mode only, the engine's rule) or on a
schedule beside the engine (``billcore serve`` starts the loop).

Loaded by ``billcore.cli.main`` after ``django.setup()``, so models import at module level."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from django.utils import timezone

from billcore.engine.steps import engine_clock
from billcore.errors import BillcoreError
from billcore.measured.sampler import Sampler, take_samples


def cmd_measured_sample(args: argparse.Namespace) -> int:
    try:
        now = engine_clock(now=timezone.now(), clock=args.now)
    except BillcoreError as exc:
        print(f"error: --{exc.message}", file=sys.stderr)
        return 2
    run = take_samples(now=now)
    print(
        json.dumps(
            {
                "now": now.isoformat(),
                "slots": {m: at.isoformat() for m, at in run.slots.items()},
                "samples": run.taken,
            },
            indent=2,
        )
    )
    return 0


def cmd_measured_loop(args: argparse.Namespace) -> int:
    parent = int(os.environ.get("BILLCORE_ENGINE_PARENT") or os.getppid())
    sampler = Sampler()
    print(f"billcore sampler: checking every {args.interval} s (Ctrl+C to stop)", flush=True)
    try:
        while not (args.exit_with_parent and os.getppid() != parent):
            try:
                run = sampler.tick(now=timezone.now())
            except Exception as exc:  # a database outage: the slot is missed, never invented
                print(f"billcore sampler: failed: {exc!r}", file=sys.stderr, flush=True)
            else:
                if run.slots:
                    print(
                        f"{timezone.now():%Y-%m-%d %H:%M:%S}Z samples "
                        + ", ".join(f"{m} {n}" for m, n in run.taken.items()),
                        flush=True,
                    )
            for _ in range(args.interval):  # a second at a time: notice a parent gone
                if args.exit_with_parent and os.getppid() != parent:
                    break
                time.sleep(1)
    except KeyboardInterrupt:
        return 0
    return 0
