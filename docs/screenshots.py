"""The README's screenshots, taken from a running billcore that holds ``billcore demo``.

    BILLCORE_ADMIN_PASSWORD=… .venv/bin/python docs/screenshots.py [--url http://127.0.0.1:8000]

Signs in as ``admin`` (``--user``) with the password in ``BILLCORE_ADMIN_PASSWORD`` in Debian's
Chromium (``/usr/bin/chromium``, driven by Playwright; no browser is downloaded) and writes,
each 1400x900 (the viewport, never a full-page capture):

* ``docs/screenshot-dashboard.png``: the dashboard (``/``);
* ``docs/screenshot-customer.png``: the page of the demo customer ``--customer`` (default
  "Johnson Consulting LLC", the customer of the README's tour);
* ``docs/screenshot-invoice.png``: the page of that customer's newest invoice.

The customer and the invoice are looked up through ``/api/v1`` (a token from
``POST /api/v1/auth/login``), so the script needs no database access. ``make screenshots``
runs it end to end on a fresh demo database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, ViewportSize, sync_playwright

DOCS = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
SIZE: ViewportSize = {"width": 1400, "height": 900}


def _api(page: Page, base: str, token: str, path: str) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    response = page.request.get(f"{base}/api/v1{path}", headers=headers)
    if not response.ok:
        raise SystemExit(f"GET /api/v1{path}: {response.status} {response.text()[:200]}")
    return response.json()


def _shot(page: Page, url: str, name: str) -> Path:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    out = DOCS / name
    page.screenshot(path=str(out), full_page=False)
    print(f"{out.relative_to(DOCS.parent)}: {url} ({out.stat().st_size // 1024} KB)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("BILLCORE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--user", default="admin")
    parser.add_argument("--customer", default="Johnson Consulting LLC")
    args = parser.parse_args(argv)
    password = os.environ.get("BILLCORE_ADMIN_PASSWORD")
    if not password:
        print("BILLCORE_ADMIN_PASSWORD is not set: the administrator's password", file=sys.stderr)
        return 2
    base = args.url.rstrip("/")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport=SIZE)
            login = page.request.post(
                f"{base}/api/v1/auth/login",
                data=json.dumps({"username": args.user, "password": password}),
                headers={"Content-Type": "application/json"},
            )
            if not login.ok:
                print(f"sign-in refused: {login.status} {login.text()[:200]}", file=sys.stderr)
                return 2
            token = login.json()["token"]
            query = urllib.parse.urlencode({"name": args.customer})
            found = _api(page, base, token, f"/customers?{query}")["items"]
            if not found:
                print(f"no customer named {args.customer!r}: is the demo loaded?", file=sys.stderr)
                return 2
            customer = found[0]["id"]
            invoices = _api(page, base, token, f"/invoices?customer={customer}&limit=1")["items"]
            if not invoices:
                print(f"{args.customer!r} has no invoice", file=sys.stderr)
                return 2

            page.goto(f"{base}/login/")
            page.fill("#id_username", args.user)
            page.fill("#id_password", password)
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            _shot(page, f"{base}/", "screenshot-dashboard.png")
            _shot(page, f"{base}/customers/{customer}/", "screenshot-customer.png")
            _shot(page, f"{base}/invoices/{invoices[0]['id']}/", "screenshot-invoice.png")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
