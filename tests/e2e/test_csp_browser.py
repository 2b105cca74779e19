"""Content-Security-Policy (issue 10 §2): every page is served with a policy that allows no
inline script and no inline style, and Debian's Chromium (driven by Playwright, never a
downloaded browser) reports zero violations on the main pages, the sign-in page (also when
locked out) and the API docs page, which loads only this site's assets."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

PASSWORD = "operator-pass-1234"
POLICY = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
}
# Records every violation the browser reports, before any script of the page runs.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def policy(response: Any) -> set[str]:
    return set(response["Content-Security-Policy"].split("; "))


def test_every_page_has_the_policy(client: Any, admin: Any) -> None:
    for url in ("/login/", "/api/v1/docs", "/api/v1/openapi.json", "/no-such-page/"):
        assert policy(client.get(url)) == POLICY, url
    client.force_login(admin)
    for url in ("/", "/customers/", "/classes/", "/settings/", "/audit/"):
        response = client.get(url, follow=True)
        assert policy(response) == POLICY, url


def test_the_api_docs_page_loads_only_local_assets(client: Any, db: Any) -> None:
    html = client.get("/api/v1/docs").content.decode()
    assert '<script src="/static/ninja/swagger-ui-bundle.js"></script>' in html
    assert '<link type="text/css" rel="stylesheet" href="/static/ninja/swagger-ui.css">' in html
    assert "http://" not in html and "https://" not in html
    assert client.get("/static/ninja/swagger-ui-bundle.js").status_code == 200


@pytest.fixture
def data(live_server: Any) -> dict[str, Any]:
    """An administrator, a class and a customer with a payment, committed for the server."""
    from billcore.accounts.models import User
    from billcore.classes.services import create_class
    from billcore.ledger.customers import create_customer

    operator = User.objects.create_user(username="operator", password=PASSWORD)
    now = timezone.now()
    cls = create_class(actor=operator, now=now, data={"name": "Euro Retail", "currency": "EUR"})
    customer = create_customer(
        actor=operator,
        now=now,
        data={
            "name": "Eurocorp",
            "currency": "EUR",
            "balance_control": "prepaid",
            "available_funds": "50",
            "customer_class": cls.pk,
        },
    )
    return {"class": cls.pk, "customer": customer.pk}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_no_csp_violation_on_the_main_pages(
    live_server: Any, browser: Any, data: dict[str, Any]
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.add_init_script(WATCH)
    console: list[str] = []
    page.on(
        "console",
        lambda m: console.append(m.text) if "Content Security Policy" in m.text else None,
    )
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url
    seen: dict[str, list[str]] = {}

    def visit(path: str) -> None:
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        seen[path] = page.evaluate("window.__csp")

    # Sign in with a wrong password first: the page with its error, then the right one.
    visit("/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    seen["/login/ (wrong password)"] = page.evaluate("window.__csp")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/settings/#seller")  # no seller details yet (issue 17 §6)

    customer = data["customer"]
    paths = [
        "/",
        "/customers/",
        "/customers/add/",
        f"/customers/{customer}/",
        f"/customers/{customer}/status/",
        "/classes/",
        "/classes/add/",
        f"/classes/{data['class']}/",
        "/periods/",
        "/subscription-plans/",
        "/subscription-plans/add/",
        "/business-models/",
        "/business-models/add/",
        "/notifications/templates/",
        "/settings/",
        "/settings/lockouts/",
        "/audit/",
        "/no-such-page/",
        "/api/v1/docs",
    ]
    for path in paths:
        visit(path)
    # The customer page's tabs and dialogs run their scripts when opened.
    visit(f"/customers/{customer}/")
    page.click("text=Balance adjustment")
    assert page.is_visible("#adjust-dialog")
    seen["balance adjustment dialog"] = page.evaluate("window.__csp")
    # The API docs page rendered its operations from the local bundle.
    visit("/api/v1/docs")
    page.wait_for_selector(".opblock-tag", timeout=15000)
    seen["/api/v1/docs (rendered)"] = page.evaluate("window.__csp")

    # The sign-in page of a locked-out name (429), in a fresh context (not signed in).
    other = browser.new_context().new_page()
    other.add_init_script(WATCH)
    other.on(
        "console",
        lambda m: console.append(m.text) if "Content Security Policy" in m.text else None,
    )
    for _ in range(5):
        other.goto(f"{base}/login/")
        other.fill("#id_username", "operator")
        other.fill("#id_password", "wrong")
        with other.expect_response(f"{base}/login/") as answer:
            other.click("button[type=submit]")
        other.wait_for_load_state("networkidle")
    assert answer.value.status == 429
    assert other.inner_text("#locked-message").startswith(
        "login 'operator' is locked after 5 failed attempts from 127.0.0.1; try again after "
    )
    seen["/login/ (locked out)"] = other.evaluate("window.__csp")

    # The watch works: an inline script injected into a page is blocked and reported.
    other.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__ran = 1'; document.body.appendChild(s); }"
    )
    other.wait_for_function("window.__csp.length > 0")
    assert other.evaluate("window.__ran") is None
    assert other.evaluate("window.__csp.map(v => v.split(' ')[0])") == ["script-src-elem"]

    assert {path: v for path, v in seen.items() if v} == {}
    assert len(console) == 1 and "Content Security Policy" in console[0]  # the control's
    assert errors == []
    assert len(seen) == len(paths) + 5
