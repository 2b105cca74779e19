"""Notifications (issue 5 §4): queued once per key, only when the class sends them and the
customer has an address (class tab Notifications); editable templates; the engine's scan for
low funds (once per crossing) and expiring saved cards (once per expiry); sent over SMTP from
the class's or the installation's From address (CC-08)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from billcore.classes.services import create_class, update_class
from billcore.errors import NotFound, ValidationFailed
from billcore.installation.models import InstallationSettings
from billcore.invoicing.cards import card_expiring_step
from billcore.invoicing.mail import send_pending
from billcore.invoicing.models import PaymentMethod
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.notifications import services
from billcore.notifications.defaults import DEFAULTS
from billcore.notifications.models import NotificationState, NotificationTemplate, OutboundEmail
from billcore.notifications.selectors import notification_log
from tests.integration.test_invoice_mail import Inbox, _text, inbox  # noqa: F401

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)


@dataclass
class Report:
    notifications_queued: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _legal() -> None:
    InstallationSettings.objects.update_or_create(
        pk=1,
        defaults={
            "legal_name": "Northwind Telecom Ltd",
            "notification_from_name": "Northwind Billing",
            "notification_from_address": "billing@northwind.example",
        },
    )


def _class(admin: Any, notifications: list[str], **data: Any) -> Any:
    return create_class(
        actor=admin,
        now=T0,
        data={
            "name": data.pop("name", "Retail USD"),
            "currency": "USD",
            "notifications": notifications,
            **data,
        },
    )


def _customer(admin: Any, cls: Any, name: str = "Acme", **data: Any) -> Any:
    return create_customer(
        actor=admin,
        now=T0,
        data={
            "name": name,
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
            "email": f"billing@{name.lower()}.example",
            **data,
        },
    )


def _emails(customer: Any) -> list[tuple[str, str | None, str]]:
    return [
        (e.notification, e.dedupe_key, e.subject)
        for e in OutboundEmail.objects.filter(customer=customer).order_by("id")
    ]


# --------------------------------------------------------------------------- notify


def test_notify_queues_once_per_dedupe_key_with_the_default_text(admin: Any) -> None:
    _legal()
    c = _customer(admin, _class(admin, ["suspended"]))
    first = services.notify(
        customer=c,
        kind="suspended",
        now=T0,
        context={"reason": "an overdue invoice"},
        dedupe_key="suspended:1",
    )
    assert first is not None
    again = services.notify(
        customer=c,
        kind="suspended",
        now=T0 + dt.timedelta(hours=1),
        context={"reason": "an overdue invoice"},
        dedupe_key="suspended:1",
    )
    assert again is None
    row = OutboundEmail.objects.get(customer=c)
    assert row.pk == first.pk
    assert (row.kind, row.notification, row.status, row.to_address, row.dedupe_key) == (
        "notification",
        "suspended",
        "pending",
        "billing@acme.example",
        "suspended:1",
    )
    assert (row.created_at, row.attempts, row.from_address) == (T0, 0, "")
    assert row.subject == "Your service has been suspended"
    assert row.body == (
        "Dear Acme,\n\n"
        "your service has been suspended because of an overdue invoice. It is restored as soon "
        "as the amount due is paid.\n\n"
        "Northwind Telecom Ltd\n"
    )
    # Without a key, every call queues one.
    assert services.notify(customer=c, kind="suspended", now=T0, context={}) is not None
    assert services.notify(customer=c, kind="suspended", now=T0, context={}) is not None
    assert OutboundEmail.objects.filter(customer=c).count() == 3


def test_a_key_queued_meanwhile_loses_the_race_quietly(
    admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another transaction queued the same key after the check: the unique constraint
    refuses the second row inside a savepoint, so the caller's transaction goes on (on
    PostgreSQL an error without the savepoint would abort it)."""
    from django.db import transaction

    c = _customer(admin, _class(admin, ["suspended"]))
    with transaction.atomic():
        first = services.notify(customer=c, kind="suspended", now=T0, context={}, dedupe_key="k")
        assert first is not None
        monkeypatch.setattr(services, "_queued", lambda customer_id, key: False)
        again = services.notify(customer=c, kind="suspended", now=T0, context={}, dedupe_key="k")
        assert again is None
        # the caller's transaction is still usable
        assert OutboundEmail.objects.filter(customer=c).count() == 1
        services.notify(customer=c, kind="suspended", now=T0, context={}, dedupe_key="k2")
    assert [e[1] for e in _emails(c)] == ["k", "k2"]


def test_notify_nothing_when_the_class_does_not_send_it(admin: Any) -> None:
    c = _customer(admin, _class(admin, ["invoice_issued"]))
    assert services.notify(customer=c, kind="suspended", now=T0, context={}) is None
    assert services.notify(customer=c, kind="suspended", now=T0, context={}, dedupe_key="k") is None
    assert OutboundEmail.objects.count() == 0


def test_notify_nothing_without_an_email_address(admin: Any) -> None:
    c = _customer(admin, _class(admin, ["suspended"]), email="")
    assert services.notify(customer=c, kind="suspended", now=T0, context={}) is None
    assert OutboundEmail.objects.count() == 0


def test_notify_rejects_an_unknown_kind(admin: Any) -> None:
    c = _customer(admin, _class(admin, ["suspended"]))
    with pytest.raises(ValidationFailed) as err:
        services.notify(customer=c, kind="birthday", now=T0, context={})
    assert err.value.field == "kind"


def test_invoice_context_and_the_class_from_name(admin: Any) -> None:
    """The variables an invoice notification gets; the sign-off is the class's From name
    when its override is on (CC-08)."""
    from billcore.invoicing.models import Invoice

    _legal()
    cls = _class(
        admin,
        ["payment_due_soon"],
        notification_from_override=True,
        notification_from_name="Reseller Telco",
        notification_from_address="care@reseller.example",
    )
    c = _customer(admin, cls, time_zone="America/New_York")
    invoice = Invoice(
        number="INV-0000007",
        total=Decimal("21.02000"),
        amount_paid=Decimal("11.01877"),  # amount due 10.00123
        due_at=dt.datetime(2027, 2, 11, 3, 0, tzinfo=dt.UTC),  # Feb 10 in New York
    )
    row = services.notify(
        customer=c,
        kind="payment_due_soon",
        now=T0,
        context=services.invoice_context(c, invoice),
        dedupe_key="payment_due_soon:7",
    )
    assert row is not None
    assert row.subject == "Payment due soon: invoice INV-0000007"
    assert row.body == (
        "Dear Acme,\n\n"
        "a reminder that 10.00123 USD of invoice INV-0000007 is due on 2027-02-10.\n\n"
        "Reseller Telco\n"
    )


def test_context_as_the_collections_pass_it(admin: Any) -> None:
    """Amounts as Decimal and dates as datetimes become text on the customer's wall clock;
    the invoice gives its number; the suspension's reason comes from the customer."""
    from billcore.invoicing.models import Invoice

    _legal()
    kinds = ["suspension_warning", "suspended", "provisionally_terminated"]
    c = _customer(admin, _class(admin, kinds), time_zone="Asia/Tokyo")
    invoice = Invoice(
        number="INV-0000003",
        total=Decimal("50"),
        amount_paid=Decimal("20"),
        due_at=dt.datetime(2027, 2, 10, 15, 30, tzinfo=dt.UTC),  # Feb 11 in Tokyo
    )
    row = services.notify(
        customer=c,
        kind="suspension_warning",
        now=T0,
        context={
            "invoice": invoice,
            "amount_due": Decimal("30.00000"),
            "due_at": invoice.due_at,
            "step_at": dt.datetime(2027, 2, 20, 16, 0, tzinfo=dt.UTC),  # Feb 21 in Tokyo
        },
        dedupe_key="suspension_warning:3",
    )
    assert row is not None
    assert row.subject == "Your service will be suspended on 2027-02-21"
    assert row.body == (
        "Dear Acme,\n\n"
        "invoice INV-0000003 (30.00 USD unpaid) is overdue. Unless it is paid, your service "
        "will be suspended on 2027-02-21.\n\n"
        "Northwind Telecom Ltd\n"
    )
    c.suspension_reason = "insufficient_funds"
    row = services.notify(customer=c, kind="suspended", now=T0, context={"invoice": invoice})
    assert row is not None
    assert row.body.startswith(
        "Dear Acme,\n\nyour service has been suspended because of insufficient funds for your "
        "subscriptions."
    )
    c.terminate_on = dt.datetime(2027, 2, 9, 20, 0, tzinfo=dt.UTC)  # Feb 10 in Tokyo
    row = services.notify(customer=c, kind="provisionally_terminated", now=T0, context={})
    assert row is not None
    assert "can be reactivated until 2027-02-10, after which" in row.body


# --------------------------------------------------------------------------- templates


def test_custom_template_is_used_and_reset_restores_the_default(admin: Any) -> None:
    _legal()
    c = _customer(admin, _class(admin, ["service_restored"]), time_zone="Europe/Berlin")
    view = services.update_template(
        actor=admin,
        now=T0,
        kind="service_restored",
        subject="  Welcome back,\n{{ customer.name }}!  ",
        body="Hello {{ customer.name }} ({{ customer_class.name }}), restored at "
        '{{ now|date:"Y-m-d H:i" }} by {{ legal_name }}. {{ unknown }}<&>',
    )
    assert (view.custom, view.updated_at, view.updated_by) == (True, T0, "admin")
    row = services.notify(customer=c, kind="service_restored", now=T0, context={})
    assert row is not None
    # one line; the customer's wall clock (Berlin is UTC+1 in January); no HTML escaping
    assert row.subject == "Welcome back, Acme!"
    assert row.body == (
        "Hello Acme (Retail USD), restored at 2027-01-10 10:00 by Northwind Telecom Ltd. <&>"
    )
    back = services.reset_template(actor=admin, now=T0, kind="service_restored")
    assert (back.custom, back.subject, back.body) == (
        False,
        *DEFAULTS["service_restored"],
    )
    assert NotificationTemplate.objects.count() == 0
    row = services.notify(customer=c, kind="service_restored", now=T0, context={})
    assert row is not None
    assert row.subject == "Your service has been restored"
    assert row.body == (
        "Dear Acme,\n\nyour service has been restored. Thank you.\n\nNorthwind Telecom Ltd\n"
    )


@pytest.mark.parametrize(
    ("subject", "body", "field", "code"),
    [
        ("Hi {% endif %}", "ok", "subject", "template_syntax"),
        ("Hi", "{% if x %}never closed", "body", "template_syntax"),
        ("Hi", "{% include 'web/base.html' %}", "body", "template_render"),
        ("Hi", "{{ customer|nosuchfilter }}", "body", "template_syntax"),
        ("", "body", "subject", "required"),
        ("{{ nothing }}", "body", "subject", "required"),
        ("Hi", "   ", "body", "required"),
        ("Hi", 12, "body", "invalid"),
        ("x" * 301, "body", "subject", "too_long"),
    ],
)
def test_a_broken_template_is_refused_naming_the_field(
    admin: Any, subject: Any, body: Any, field: str, code: str
) -> None:
    with pytest.raises(ValidationFailed) as err:
        services.update_template(actor=admin, now=T0, kind="suspended", subject=subject, body=body)
    assert (err.value.field, err.value.code, err.value.status) == (field, code, 400)
    assert NotificationTemplate.objects.count() == 0


def test_templates_are_for_administrators_only(world: Any) -> None:
    with pytest.raises(NotFound):
        services.list_templates(actor=world["ua"])
    with pytest.raises(NotFound):
        services.update_template(actor=world["ua"], now=T0, kind="suspended", subject="a", body="b")
    with pytest.raises(NotFound) as err:
        services.get_template(actor=world["admin"], kind="birthday")
    assert err.value.field == "kind"


def test_a_template_broken_after_saving_falls_back_to_the_default(
    admin: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A row that no longer renders (written around the check) never breaks the caller."""
    _legal()
    c = _customer(admin, _class(admin, ["service_restored"]))
    NotificationTemplate.objects.create(
        kind="service_restored", subject="{% if %}", body="x", updated_at=T0
    )
    with caplog.at_level(logging.ERROR, logger="billcore.notifications.services"):
        row = services.notify(customer=c, kind="service_restored", now=T0, context={})
    assert row is not None
    assert row.subject == "Your service has been restored"
    assert "notification template 'service_restored' does not render" in caplog.text


def test_every_default_renders_with_the_sample_context(admin: Any) -> None:
    _legal()
    for kind, (subject, body) in DEFAULTS.items():
        rendered_subject, rendered_body = services.render_pair(
            subject, body, services.sample_context(kind)
        )
        assert rendered_subject and "{" not in rendered_subject, kind
        assert rendered_body.endswith("Northwind Telecom Ltd\n"), kind
    assert services.preview(
        actor=admin,
        kind="card_expiring",
        subject=DEFAULTS["card_expiring"][0],
        body=DEFAULTS["card_expiring"][1],
    ) == (
        "Your saved card expires at the end of 12/2026",
        "Dear Sample Customer Ltd,\n\n"
        "your saved card Visa ending in 4242 expires at the end of 12/2026. Please save a new "
        "card to keep paying automatically.\n\n"
        "Northwind Telecom Ltd\n",
    )


# --------------------------------------------------------------------------- low funds


def _move(admin: Any, c: Any, action: str, amount: str, at: dt.datetime) -> None:
    record_transaction(actor=admin, now=at, customer_id=c.pk, action=action, amount=amount)


def test_low_funds_once_per_crossing_prepaid(admin: Any) -> None:
    _legal()
    cls = _class(admin, ["low_funds"], low_funds_threshold="10")
    c = _customer(admin, cls, balance_control="prepaid", available_funds="20")
    step = dt.timedelta(hours=1)

    report = Report()
    services.scan_step(now=T0, report=report)  # 20.00 >= 10: nothing
    assert (report.notifications_queued, _emails(c)) == (0, [])

    _move(admin, c, "manual_charge", "12.5", T0 + step)  # funds 7.50
    report = Report()
    services.scan_step(now=T0 + 2 * step, report=report)
    assert report.notifications_queued == 1
    assert _emails(c) == [("low_funds", "low_funds:1", "Low available funds: 7.50 USD")]
    assert OutboundEmail.objects.get(customer=c).body == (
        "Dear Acme,\n\n"
        "your available funds (7.50 USD) are below 10.00 USD. Please top up to avoid an "
        "interruption of service.\n\n"
        "Northwind Telecom Ltd\n"
    )

    _move(admin, c, "manual_charge", "1", T0 + 3 * step)  # still below: 6.50
    for at in (T0 + 3 * step, T0 + 4 * step, T0 + 4 * step):
        report = Report()
        services.scan_step(now=at, report=report)
        assert report.notifications_queued == 0
    assert len(_emails(c)) == 1

    _move(admin, c, "manual_payment", "3.5", T0 + 5 * step)  # exactly 10.00: above again
    services.scan_step(now=T0 + 5 * step, report=Report())
    state = NotificationState.objects.get(customer=c, kind="low_funds")
    assert (state.armed, state.count) == (True, 1)
    assert len(_emails(c)) == 1

    _move(admin, c, "manual_charge", "0.00001", T0 + 6 * step)  # 9.99999: below again
    report = Report()
    services.scan_step(now=T0 + 6 * step, report=report)
    assert report.notifications_queued == 1
    assert _emails(c) == [
        ("low_funds", "low_funds:1", "Low available funds: 7.50 USD"),
        ("low_funds", "low_funds:2", "Low available funds: 9.99999 USD"),
    ]
    state.refresh_from_db()
    assert (state.armed, state.count, state.updated_at) == (False, 2, T0 + 6 * step)


def test_low_funds_postpaid_credit_limit_near(admin: Any) -> None:
    _legal()
    cls = _class(admin, ["low_funds"], low_funds_threshold="25")
    near = _customer(admin, cls, name="Near", credit_limit="100")
    no_limit = _customer(admin, cls, name="Unlimited")
    _move(admin, near, "manual_charge", "80", T0)  # room 20 < 25
    _move(admin, no_limit, "manual_charge", "1000", T0)  # no limit: never low
    report = Report()
    services.scan_step(now=T0 + dt.timedelta(hours=1), report=report)
    assert report.notifications_queued == 1
    assert _emails(near) == [("low_funds", "low_funds:1", "Low remaining credit: 20.00 USD")]
    assert _emails(no_limit) == []


def test_low_funds_not_when_disabled_or_without_threshold(admin: Any) -> None:
    off = _class(admin, ["suspended"], low_funds_threshold="10", name="Off")
    no_threshold = _class(admin, ["low_funds"], name="No threshold")
    a = _customer(admin, off, name="A", balance_control="prepaid", available_funds="1")
    b = _customer(admin, no_threshold, name="B", balance_control="prepaid", available_funds="1")
    report = Report()
    services.scan_step(now=T0, report=report)
    assert report.notifications_queued == 0
    assert _emails(a) == _emails(b) == []
    assert NotificationState.objects.count() == 0
    # Turned on later: the next scan notifies.
    update_class(actor=admin, now=T0, class_id=off.pk, changes={"notifications": ["low_funds"]})
    report = Report()
    services.scan_step(now=T0 + dt.timedelta(hours=1), report=report)
    assert report.notifications_queued == 1
    assert _emails(a) == [("low_funds", "low_funds:1", "Low available funds: 1.00 USD")]


# --------------------------------------------------------------------------- card expiring


def _card(c: Any, month: int, year: int) -> PaymentMethod:
    return PaymentMethod.objects.create(
        customer=c,
        gateway="test",
        token=f"tok-{c.pk}",
        brand="Visa",
        last4="4242",
        exp_month=month,
        exp_year=year,
        created_at=T0,
        updated_at=T0,
    )


def test_card_expiring_once_per_expiry(admin: Any) -> None:
    _legal()
    cls = _class(admin, ["card_expiring"])
    this_month = _customer(admin, cls, name="January")
    next_month = _customer(admin, cls, name="February")
    later = _customer(admin, cls, name="March")
    expired = _customer(admin, cls, name="December")
    _card(this_month, 1, 2027)
    card = _card(next_month, 2, 2027)
    _card(later, 3, 2027)
    _card(expired, 12, 2026)
    report = Report()
    card_expiring_step(now=T0, report=report)
    assert report.notifications_queued == 2
    assert _emails(this_month) == [
        ("card_expiring", "card_expiring:2027-1", "Your saved card expires at the end of 01/2027")
    ]
    assert _emails(next_month) == [
        ("card_expiring", "card_expiring:2027-2", "Your saved card expires at the end of 02/2027")
    ]
    assert _emails(later) == _emails(expired) == []
    assert OutboundEmail.objects.get(customer=next_month).body == (
        "Dear February,\n\n"
        "your saved card Visa ending in 4242 expires at the end of 02/2027. Please save a new "
        "card to keep paying automatically.\n\n"
        "Northwind Telecom Ltd\n"
    )
    # Again the same moment, and in February: still one per card expiry.
    for at in (T0, dt.datetime(2027, 2, 3, tzinfo=dt.UTC)):
        report = Report()
        card_expiring_step(now=at, report=report)
        assert report.notifications_queued == (1 if at.month == 2 else 0)
    assert len(_emails(next_month)) == 1
    assert _emails(later) == [
        ("card_expiring", "card_expiring:2027-3", "Your saved card expires at the end of 03/2027")
    ]
    # A new card with a new expiry is notified again when its time comes.
    card.exp_month, card.exp_year = 2, 2029
    card.save()
    report = Report()
    card_expiring_step(now=dt.datetime(2029, 1, 15, tzinfo=dt.UTC), report=report)
    assert _emails(next_month)[-1][1] == "card_expiring:2029-2"


def test_card_expiring_uses_the_customer_time_zone(admin: Any) -> None:
    """At 2027-01-31 20:00 UTC it is already February in Tokyo: a card expiring in March is
    'next month' there, not in New York."""
    cls = _class(admin, ["card_expiring"])
    tokyo = _customer(admin, cls, name="Tokyo", time_zone="Asia/Tokyo")
    ny = _customer(admin, cls, name="York", time_zone="America/New_York")
    _card(tokyo, 3, 2027)
    _card(ny, 3, 2027)
    report = Report()
    card_expiring_step(now=dt.datetime(2027, 1, 31, 20, 0, tzinfo=dt.UTC), report=report)
    assert report.notifications_queued == 1
    assert [k for _, k, _ in _emails(tokyo)] == ["card_expiring:2027-3"]
    assert _emails(ny) == []


def test_card_expiring_not_when_disabled(admin: Any) -> None:
    c = _customer(admin, _class(admin, ["low_funds"]))
    _card(c, 1, 2027)
    report = Report()
    card_expiring_step(now=T0, report=report)
    assert report.notifications_queued == 0
    assert _emails(c) == []


# --------------------------------------------------------------------------- log and mail


def test_notification_log_newest_first_and_scoped(world: Any) -> None:
    admin = world["admin"]
    cls = _class(admin, ["suspended", "service_restored"], name="Notified")
    c = _customer(admin, cls)
    services.notify(customer=c, kind="suspended", now=T0, context={})
    services.notify(customer=c, kind="service_restored", now=T0 + dt.timedelta(hours=1), context={})
    OutboundEmail.objects.create(
        customer=c, kind="invoice", to_address=c.email, created_at=T0 - dt.timedelta(days=1)
    )
    log = notification_log(actor=admin, customer_id=c.pk)
    assert [(e.kind, e.notification, e.label, e.status) for e in log] == [
        ("notification", "service_restored", "Service restored", "pending"),
        ("notification", "suspended", "Service suspended", "pending"),
        ("invoice", "", "Invoice", "pending"),
    ]
    with pytest.raises(NotFound):
        notification_log(actor=world["ua"], customer_id=c.pk)


def test_notification_sent_over_smtp_from_the_class_override(
    admin: Any,
    inbox: Inbox,  # noqa: F811
) -> None:
    """CC-08: the class's own From name and address when its override is on."""
    _legal()
    cls = _class(
        admin,
        ["suspended"],
        notification_from_override=True,
        notification_from_name="Reseller Telco",
        notification_from_address="care@reseller.example",
    )
    c = _customer(admin, cls)
    other = _customer(admin, _class(admin, ["suspended"], name="Plain"), name="Other")
    for customer in (c, other):
        services.notify(
            customer=customer,
            kind="suspended",
            now=T0,
            context={"reason": "an overdue invoice"},
            dedupe_key="suspended:1",
        )
    report = send_pending(now=T0 + dt.timedelta(minutes=5))
    assert (report.sent, report.failed, report.pending) == (2, 0, 0)
    first, second = sorted(inbox.envelopes, key=lambda e: e.rcpt_tos)
    assert (first.mail_from, first.rcpt_tos) == ("care@reseller.example", ["billing@acme.example"])
    assert (second.mail_from, second.rcpt_tos) == (
        "billing@northwind.example",
        ["billing@other.example"],
    )
    by_to = {m["To"]: m for m in inbox.messages()}
    msg = by_to["billing@acme.example"]
    assert msg["From"] == "Reseller Telco <care@reseller.example>"
    assert msg["Subject"] == "Your service has been suspended"
    assert _text(msg) == (
        "Dear Acme,\n\n"
        "your service has been suspended because of an overdue invoice. It is restored as soon "
        "as the amount due is paid.\n\n"
        "Reseller Telco\n"
    )
    assert list(msg.iter_attachments()) == []
    assert by_to["billing@other.example"]["From"] == "Northwind Billing <billing@northwind.example>"
    row = OutboundEmail.objects.get(customer=c)
    assert (row.status, row.sent_at, row.attempts, row.from_address, row.subject) == (
        "sent",
        T0 + dt.timedelta(minutes=5),
        1,
        "Reseller Telco <care@reseller.example>",
        "Your service has been suspended",
    )
    # Nothing left: a second run sends nothing.
    assert send_pending(now=T0 + dt.timedelta(minutes=6)).sent == 0
    assert len(inbox.envelopes) == 2
