"""The demo's running business (issue 17, item 14): a rating catalogue, accounts with their
products, subscriptions, ~90 days of priced usage, and the history the engine makes of them
(closed periods, invoices, payments, a void, collections), all through the services.

The history is produced the way a live installation produces it: the installation is put in
test mode, the engine runs once a day over the past days (its clock moved, as test mode
allows), the payments of each invoice are recorded on their own (past) dates between those
runs, and test mode is turned off at the end. The last run is at ``now`` itself, so a real
engine run right after the load has nothing to close: no backlog.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
import zoneinfo
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from billcore.charging.services import ChargeRequest, charge_many, parse_usage
from billcore.customers.models import Customer
from billcore.engine.models import Trigger
from billcore.engine.steps import engine_clock
from billcore.engine.steps import run as engine_run
from billcore.installation.services import get_settings, update_settings
from billcore.invoicing.actions import pay_invoice, void_invoice
from billcore.invoicing.models import Invoice, InvoiceStatus
from billcore.notifications.outbox import cancel_pending
from billcore.rating import services as rating
from billcore.rating.pricing import Priced, Pricer
from billcore.subscribers.services import create_account
from billcore.subscriptions.services import create_plan, subscribe

# The engine's steps the daily walk takes: PDFs and e-mails are left to the real engine
# (rendering every past invoice's PDF would make the load slow; no SMTP is configured).
WALK_STEPS = ("subscriptions", "close", "collections", "collect", "notifications")
# The engine runs every few days of the history, not daily: each run looks at every customer
# with a subscription or an unpaid invoice, and `make demo` must stay within about a minute.
WALK_EVERY_DAYS = 3
PRICE = Decimal("0.0001")
SCALE = {
    "USD": Decimal("1"),
    "EUR": Decimal("0.9"),
    "GBP": Decimal("0.8"),
    "CAD": Decimal("1.35"),
    "MYR": Decimal("4.5"),
}
# Voice prices per minute (USD-like, scaled to the tariff's currency), by prefix.
VOICE_RATES: tuple[tuple[str, str], ...] = (
    ("1", "0.012"),  # US and Canada
    ("44", "0.045"),  # United Kingdom
    ("4420", "0.030"),  # London
    ("447", "0.120"),  # UK mobile
    ("49", "0.050"),  # Germany
    ("33", "0.050"),  # France
    ("60", "0.070"),  # Malaysia
    ("|", "0.350"),  # rest of the world
)
SAVER_RATES = (("44", "0.020"), ("49", "0.022"), ("33", "0.022"), ("60", "0.030"), ("|", "0.150"))
DEAL_RATES = (("49", "0.020"), ("33", "0.025"))  # the business customer's override
WHOLESALE_RATES = (("1", "0.006"), ("44", "0.020"), ("447", "0.060"), ("|", "0.200"))
RESELLER_RATES = (("1", "0.018"), ("44", "0.060"), ("447", "0.150"), ("|", "0.450"))
DATA_PER_MB = "0.010"
SMS_RATES = (("|", "0.060"),)
# The called numbers each country's customers dial (prefix, digits to add), most often home.
DIALLED: dict[str, tuple[tuple[str, int, int], ...]] = {
    "US": (("1512555", 4, 70), ("1416555", 4, 10), ("4420794", 6, 6), ("4930555", 5, 6)),
    "CA": (("1416555", 4, 55), ("1604555", 4, 20), ("1512555", 4, 15), ("33199", 5, 5)),
    "GB": (("4420794", 6, 45), ("447700900", 3, 30), ("44161496", 4, 15), ("4930555", 5, 5)),
    "DE": (("4930555", 5, 60), ("4989555", 5, 20), ("33199", 5, 8), ("4420794", 6, 6)),
    "FR": (("33199", 5, 60), ("33499", 5, 20), ("4930555", 5, 8), ("447700900", 3, 5)),
    "NL": (("3120555", 5, 55), ("4930555", 5, 20), ("4420794", 6, 10), ("33199", 5, 8)),
    "ES": (("3491555", 5, 55), ("33199", 5, 15), ("4420794", 6, 12), ("4930555", 5, 8)),
    "IT": (("3902555", 5, 55), ("33199", 5, 15), ("4930555", 5, 12), ("4420794", 6, 8)),
    "MY": (("6032555", 4, 60), ("6042555", 4, 20), ("6512345", 4, 8), ("1512555", 4, 4)),
}
FAR_AWAY = (("8135550", 4), ("61255501", 3), ("5511555", 5), ("9122555", 5))
PLANS: tuple[tuple[str, str, str], ...] = (
    ("Business Line USD", "USD", "19.99"),
    ("Business Line EUR", "EUR", "24.90"),
    ("Business Line GBP", "GBP", "17.50"),
    ("Business Line CAD", "CAD", "27.00"),
    ("Fibre Home MYR", "MYR", "129.00"),
)


def _price(usd_like: str, currency: str) -> str:
    value = (Decimal(usd_like) * SCALE[currency]).quantize(PRICE, rounding=ROUND_HALF_UP)
    return str(value)


@dataclass
class Business:
    """What the business part of the load made, for the summary and the tests."""

    tariffs: int = 0
    products: int = 0
    accounts: int = 0
    subscriptions: int = 0
    xdrs: int = 0
    engine_runs: int = 0
    payments: int = 0
    voided: str = ""
    emails_cancelled: int = 0
    main_product: dict[tuple[int | None, str], int] = field(default_factory=dict)
    addon: int | None = None


class BusinessLoader:
    """The catalogue, accounts, usage and engine history of the demo (see the module)."""

    def __init__(
        self, *, rng: random.Random, now: dt.datetime, start: dt.datetime, admin: Any
    ) -> None:
        self.rng = rng
        self.now = now
        self.start = start
        self.admin = admin
        self.made = Business()
        self.identifiers: set[str] = set()
        self.accounts: list[tuple[Any, Any]] = []  # (account, customer)

    # -- catalogue -----------------------------------------------------------------------

    def _tariff(self, actor: Any, data: dict[str, Any], rates: Any, **rate: Any) -> Any:
        tariff = rating.create_tariff(actor=actor, now=self.start, data=data)
        first, nxt = rate.pop("intervals", (1, 1))
        for prefix, usd_like in rates:
            values = {
                "prefix": prefix,
                "interval_first": first,
                "interval_next": nxt,
                "price_first": _price(usd_like, data["currency"]),
                "price_next": _price(usd_like, data["currency"]),
                "effective_from": self.start - dt.timedelta(days=30),
            }
            if rate.get("offpeak"):
                off = _price(str(Decimal(usd_like) * Decimal("0.6")), data["currency"])
                values |= {"offpeak_price_first": off, "offpeak_price_next": off}
                values |= {"offpeak_interval_first": first, "offpeak_interval_next": nxt}
            rating.create_rate(actor=actor, now=self.start, tariff_id=tariff.pk, data=values)
        self.made.tariffs += 1
        return tariff

    def _product(self, actor: Any, data: dict[str, Any], entries: list[dict[str, Any]]) -> Any:
        product = rating.create_product(actor=actor, now=self.start, data=data)
        for entry in entries:
            rating.create_entry(actor=actor, now=self.start, product_id=product.pk, data=entry)
        self.made.products += 1
        return product

    def catalogue(self, resellers: dict[str, Any], reseller_users: dict[str, Any]) -> None:
        """Tariffs (voice per currency, data, messaging), a main product per currency, an
        add-on, a tariff for one customer's override and each reseller's own product."""
        admin = self.admin
        evenings = rating.create_offpeak_period(
            actor=admin,
            now=self.start,
            data={"name": "Evenings and nights", "expression": "hr{7pm-7am}"},
        )
        for currency in SCALE:
            extra: dict[str, Any] = {}
            options: dict[str, Any] = {}
            if currency == "USD":
                extra = {"offpeak_period": evenings.pk}
                options = {"offpeak": True}
            elif currency == "EUR":
                options = {"intervals": (60, 6)}
            elif currency == "GBP":
                extra = {"connection_fee": _price("0.02", "GBP")}
            voice = self._tariff(
                admin,
                {"name": f"Voice Retail {currency}", "currency": currency, **extra},
                VOICE_RATES,
                **options,
            )
            data = self._tariff(
                admin,
                {"name": f"Mobile Data {currency}", "currency": currency, "service": "data"},
                (("|", DATA_PER_MB),),
            )
            sms = self._tariff(
                admin,
                {"name": f"Messaging {currency}", "currency": currency, "service": "messaging"},
                SMS_RATES,
            )
            product = self._product(
                admin,
                {"name": f"Voice & Data {currency}", "currency": currency, "precedence": 1},
                [
                    {"service": "voice", "tariff": voice.pk},
                    {"service": "data", "tariff": data.pk},
                    {"service": "messaging", "tariff": sms.pk},
                ],
            )
            self.made.main_product[(None, currency)] = product.pk
            if currency == "USD":
                saver = self._tariff(
                    admin, {"name": "International Saver USD", "currency": "USD"}, SAVER_RATES
                )
                addon = self._product(
                    admin,
                    {
                        "name": "International Saver",
                        "currency": "USD",
                        "kind": "addon",
                        "precedence": 10,
                        "description": "Cheaper calls abroad for USD 5 a month",
                    },
                    [{"service": "voice", "tariff": saver.pk}],
                )
                self.made.addon = addon.pk
            if currency == "EUR":
                self.eur_voice = voice
                self.eur_deal = self._tariff(
                    admin,
                    {"name": "Volume deal EUR (Germany, France)", "currency": "EUR"},
                    DEAL_RATES,
                    intervals=(60, 6),
                )
        for key, reseller in resellers.items():
            user = reseller_users[key]
            currency = reseller.currency_id
            wholesale = self._tariff(
                admin,
                {"name": f"Wholesale Voice {currency}", "currency": currency},
                WHOLESALE_RATES,
            )
            own = self._tariff(
                user, {"name": f"{reseller.name} Voice", "currency": currency}, RESELLER_RATES
            )
            own_sms = self._tariff(
                user,
                {
                    "name": f"{reseller.name} Messaging",
                    "currency": currency,
                    "service": "messaging",
                },
                SMS_RATES,
            )
            product = self._product(
                user,
                {"name": f"{reseller.name} Calling", "currency": currency},
                [
                    {"service": "voice", "tariff": own.pk},
                    {"service": "messaging", "tariff": own_sms.pk},
                ],
            )
            voice_entry = product.entries.get(service__code="voice")
            rating.update_entry(  # the wholesale price is the administrator's to set
                actor=admin,
                now=self.start,
                product_id=product.pk,
                entry_id=voice_entry.pk,
                changes={"reseller_tariff": wholesale.pk},
            )
            self.made.main_product[(reseller.pk, currency)] = product.pk

    def plans(self, resellers: dict[str, Any], reseller_users: dict[str, Any]) -> None:
        self.plan_ids: dict[tuple[int | None, str], int] = {}
        for name, currency, fee in PLANS:
            plan = create_plan(
                actor=self.admin,
                now=self.start,
                data={"name": name, "currency": currency, "fee": fee, "in_advance": True},
            )
            self.plan_ids[(None, currency)] = plan.pk
        for key, reseller in resellers.items():
            fee = "25.00" if reseller.currency_id == "CAD" else "32.00"
            plan = create_plan(
                actor=reseller_users[key],
                now=self.start,
                data={
                    "name": f"{reseller.name} Hosted Seat",
                    "currency": reseller.currency_id,
                    "fee": fee,
                    "in_advance": True,
                },
            )
            self.plan_ids[(reseller.pk, reseller.currency_id)] = plan.pk

    # -- accounts ------------------------------------------------------------------------

    def _identifier(self, customer: Any) -> str:
        digits = "".join(c for c in customer.phone if c.isdigit()) or "1555"
        while True:
            ident = f"{digits[:9]}{self.rng.randrange(10**4):04d}"
            if ident not in self.identifiers:
                self.identifiers.add(ident)
                return ident

    def accounts_of(self, customer: Any, actor: Any) -> None:
        """1-5 accounts with the product of the customer's owner and currency; a
        subscription for most postpaid customers; the add-on for some USD accounts."""
        rng = self.rng
        count = rng.choices((1, 2, 3, 4, 5), weights=(45, 25, 15, 10, 5))[0]
        product = self.made.main_product[(customer.reseller_id, customer.currency_id)]
        at = customer.created_at + dt.timedelta(minutes=10)
        first = None
        for _ in range(count):
            account = create_account(
                actor=actor,
                now=at,
                customer_id=customer.pk,
                data={"identifier": self._identifier(customer)},
            )
            addons = []
            if (
                customer.currency_id == "USD"
                and customer.reseller_id is None
                and rng.random() < 0.3
            ):
                addons = [self.made.addon]
            rating.set_account_products(
                actor=actor, now=at, account_id=account.pk, product=product, addons=addons
            )
            self.made.accounts += 1
            self.accounts.append((account, customer))
            first = first or account
        plan = self.plan_ids.get((customer.reseller_id, customer.currency_id))
        if plan is not None and not customer.is_prepaid and rng.random() < 0.6:
            subscribe(
                actor=actor,
                now=at,
                customer_id=customer.pk,
                data={"plan": plan, "start_at": at, "account": first.pk if first else None},
            )
            self.made.subscriptions += 1

    def override(self, customer: Any) -> None:
        """The volume deal for one business customer (EUR)."""
        rating.create_override(
            actor=self.admin,
            now=customer.created_at + dt.timedelta(minutes=20),
            customer_id=customer.pk,
            data={"master_tariff": self.eur_voice.pk, "override_tariff": self.eur_deal.pk},
        )

    # -- usage ---------------------------------------------------------------------------

    def _number(self, country: str) -> str:
        rng = self.rng
        if rng.random() < 0.04:
            prefix, digits = rng.choice(FAR_AWAY)
        else:
            table = DIALLED.get(country, DIALLED["US"])
            prefix, digits, _ = rng.choices(table, weights=[w for *_, w in table])[0]
        return f"{prefix}{rng.randrange(10**digits):0{digits}d}"

    def usage(self) -> None:
        """Calls, data sessions and messages of every account over the history, priced by
        the catalogue and charged through ``charge_many`` at their past times."""
        rng = self.rng
        pricer = Pricer(whole_tariffs=True)
        requests: list[ChargeRequest] = []
        latest = self.now - dt.timedelta(minutes=5)
        for account, customer in self.accounts:
            zone = zoneinfo.ZoneInfo(customer.time_zone or "UTC")
            day = account.created_at.astimezone(zone).date() + dt.timedelta(days=1)
            activity = rng.uniform(0.03, 0.12)
            while day <= self.now.astimezone(zone).date():
                if rng.random() < activity:
                    for _ in range(rng.randint(1, 3)):
                        local = dt.datetime.combine(day, dt.time(8), tzinfo=zone)
                        started = (
                            local + dt.timedelta(seconds=rng.randrange(14 * 3600))
                        ).astimezone(dt.UTC)
                        roll = rng.random()
                        if roll < 0.6:
                            service, quantity = "voice", Decimal(int(rng.expovariate(1 / 180)) + 5)
                            cld, ends = self._number(customer.country), int(quantity)
                        elif roll < 0.8 and customer.reseller_id is None:
                            service = "data"
                            quantity = Decimal(rng.randrange(2, 400) * 10**6)
                            cld, ends = "internet", rng.randrange(60, 3600)
                        else:
                            service, quantity = "messaging", Decimal(rng.randint(1, 4))
                            cld, ends = self._number(customer.country), 1
                        at = started + dt.timedelta(seconds=ends)
                        if at > latest or started < account.created_at:
                            continue
                        priced = pricer.price(
                            account_id=account.pk,
                            service=service,
                            cld="0" if service == "data" else cld,
                            quantity=quantity,
                            started_at=started,
                        ).customer
                        if not isinstance(priced, Priced):
                            continue
                        usage = parse_usage(
                            service=service,
                            # When the charge path rates usage by itself (usage without
                            # ``amount``, with ``cld``), this line becomes ``cld=cld,``.
                            amount=priced.amount,
                            quantity=quantity,
                            started_at=started,
                            details={"cld": cld} if service != "data" else {"apn": cld},
                            now=at,
                        )
                        requests.append(ChargeRequest(usage=usage, now=at, account_id=account.pk))
                day += dt.timedelta(days=1)
        requests.sort(key=lambda r: (r.now, r.account_id))
        results = charge_many(actor=self.admin, requests=requests)
        self.made.xdrs = sum(1 for r in results if not isinstance(r, Exception))

    # -- the engine's history ------------------------------------------------------------

    def history(self) -> None:
        """Test mode on, the engine once a day over the past days with the invoices' payments
        between the runs, one invoice voided, the last run at ``now``; test mode off."""
        update_settings(actor=self.admin, now=self.start, changes={"test_mode": True})
        planned: set[int] = set()
        queue: list[tuple[dt.datetime, int, int, str]] = []  # (at, order, invoice, what)
        order = 0
        days = (self.now - self.start).days
        clocks = [self.now - dt.timedelta(days=k) for k in range(days - 1, 0, -WALK_EVERY_DAYS)]
        clocks.append(self.now)
        for clock in clocks:
            while queue and queue[0][0] <= clock:
                at, _, invoice_id, what = heapq.heappop(queue)
                self._settle(at, invoice_id, what)
            engine_run(
                now=engine_clock(now=self.now, clock=clock),
                steps=WALK_STEPS,
                trigger=Trigger.OTHER,
                started_by="billcore demo",
            )
            self.made.engine_runs += 1
            fresh = (
                Invoice.objects.filter(issued_at__lte=clock)
                .exclude(pk__in=planned)
                .order_by("issued_at", "pk")
                .values_list("pk", "issued_at", "status")
            )
            for pk, issued, status in fresh:
                planned.add(pk)
                if status not in (InvoiceStatus.ISSUED, InvoiceStatus.OVERDUE):
                    continue  # paid from credit at issue (or nothing to pay)
                for at, what in self._fate(issued):
                    if at < self.now:
                        order += 1
                        heapq.heappush(queue, (at, order, pk, what))
        # The history's invoices and notices belong to nobody real: they are never sent
        # (a first engine run with SMTP configured would otherwise mail them all).
        self.made.emails_cancelled = cancel_pending(
            created_before=self.now + dt.timedelta(seconds=1),
            reason="billcore demo: history, never sent",
        )
        update_settings(actor=self.admin, now=self.now, changes={"test_mode": False})
        assert not get_settings().test_mode

    def _fate(self, issued: dt.datetime) -> list[tuple[dt.datetime, str]]:
        """When the invoice is paid, partly paid, voided or left unpaid."""
        rng = self.rng
        roll = rng.random()
        later = issued + dt.timedelta(days=rng.uniform(1, 24), seconds=rng.randrange(3600))
        later = later.replace(microsecond=0)
        if not self.made.voided and issued < self.now - dt.timedelta(days=20):
            self.made.voided = "planned"
            return [(issued + dt.timedelta(days=3), "void")]
        if roll < 0.74:
            return [(later, "full")]
        if roll < 0.86:
            return [(later, "part")]
        return []

    def _settle(self, at: dt.datetime, invoice_id: int, what: str) -> None:
        invoice = Invoice.objects.defer("pdf").get(pk=invoice_id)
        if invoice.status not in (
            InvoiceStatus.ISSUED,
            InvoiceStatus.PARTLY_PAID,
            InvoiceStatus.OVERDUE,
        ):
            return
        actor = self.admin
        if what == "void":
            if invoice.amount_paid or invoice.total <= 0:
                self.made.voided = ""  # the next unpaid invoice is voided instead
                return
            void_invoice(
                actor=actor,
                now=at,
                invoice_id=invoice_id,
                reason="Billed in error: the customer's lines were moved to another account",
            )
            self.made.voided = invoice.number
            return
        owed = invoice.total - invoice.amount_paid
        if owed <= 0:
            return
        amount = owed
        if what == "part":
            share = Decimal(self.rng.choice(("0.3", "0.5", "0.6")))
            amount = (owed * share).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if amount <= 0:
            return
        customer = Customer.objects.get(pk=invoice.customer_id)
        pay_invoice(
            actor=actor,
            now=at,
            invoice_id=invoice_id,
            amount=str(amount),
            action=self.rng.choice(("Manual payment", "E-commerce payment")),
            visible_comment=f"Payment for invoice {invoice.number}, thank you",
            internal_comment=f"{customer.name}: bank ref {self.rng.randrange(10**7, 10**8)}",
        )
        self.made.payments += 1
