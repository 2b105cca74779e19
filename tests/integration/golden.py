"""Golden invoicing scenarios (issue 4, section 7): load a YAML scenario and play it through
the services (never HTTP), then assert every expected figure exactly.

The format is documented in ``tests/golden/README.md``. :func:`validate` checks a scenario's
shape without a database (``tests/unit/test_golden_format.py`` runs it on every file);
:func:`play` sets the scenario up, plays its timeline and checks its expectations. Beyond what
a scenario writes down, :func:`play` always checks:

* every customer's ledger sums to its balance;
* every invoice's lines (all kinds except ``tax_included``) add up to its total, and its
  summary reconciles: previous balance + payments + total = balance after;
* no invoice exists that the scenario does not expect (count per customer and overall);
* every engine event is idempotent: the engine runs a second time with the same ``now`` and
  steps, and nothing in the database changes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

GOLDEN_ROOT = Path(__file__).resolve().parents[1] / "golden"
GOLDEN_DIR = GOLDEN_ROOT / "invoicing"
SUITES = ("invoicing", "lifecycle", "rating")

FEATURE_ID = re.compile(r"^(CC|CU)-\d{2}$")
EVENT_KINDS = (
    "usage",
    "transaction",
    "fee",
    "engine",
    "approve",
    "out_of_turn",
    "save_card",
    "installation",
    "check",
    "status",
    "plan",
    "subscribe",
    "unsubscribe",
    "measured",
    "sample",
    "did",
    "did_assign",
    "did_release",
)
STATUS_ACTIONS = (
    "block",
    "unblock",
    "suspend",
    "unsuspend",
    "lift_suspension_until",
    "terminate",
    "reactivate",
    "export",
    "clear_export",
)
# Issue 14: a measured-service definition of a class or a customer, and the sampler.
MEASURED_KEYS = {
    "class",
    "customer",
    "metric",
    "apply_charge",
    "charge_basis",
    "price",
    "free_items",
    "rate_code",
    "service",
    "configured_limit",
}
SAMPLE_KEYS = {"days", "skip"}
STATUS_KEYS = {"customer", "action", "until", "terminate_on", "permanent", "midterm_invoice"}
PLAN_KEYS = {
    "name",
    "currency",
    "fee",
    "in_advance",
    "prorate",
    "charge_while_suspended",
    "charge_while_blocked",
}
# A DID of the inventory with its own fee-paying pricing batch (issue 14).
DID_KEYS = {
    "number",
    "currency",
    "activation_cost",
    "periodic_cost",
    "additional_activation_fee",
    "additional_recurring_fee",
    "recurring_markup_percent",
}
TOP_KEYS = {
    "title",
    "features",
    "description",
    "installation",
    "currencies",
    "resellers",
    "classes",
    "customers",
    "timeline",
    "expect",
    "arithmetic",
    "catalogue",
    "accounts",
}
# Rating scenarios (issue 12): the catalogue's parts and an xDR's expected rating.
CATALOGUE_KEYS = {
    "offpeak_periods",
    "tariffs",
    "products",
    "overrides",
    # Issue 13: destination groups (key -> prefixes) and volume discount plans (key -> rules,
    # assign, valid_from), see the README's "Plans".
    "destination_groups",
    "discount_plans",
}
USAGE_EXPECT_KEYS = {
    "amount",
    "charged_quantity",
    "base_quantity",
    "rate_prefix",
    "price_set",
    "tariff",
    "reason",
    "reseller_amount",
    "parts",  # issue 13: [[kind, units, amount], ...] what each took (plans.XdrPart)
}
REQUIRED_TOP = ("title", "features", "classes", "customers", "timeline", "expect", "arithmetic")
INVOICE_REQUIRED = (
    "customer",
    "number",
    "kind",
    "period",
    "issued_at",
    "due_at",
    "lines",
    "net",
    "tax_total",
    "special_rounding",
    "rounding",
    "total",
    "amount_paid",
    "status",
)
INVOICE_OPTIONAL = (
    "previous_balance",
    "payments",
    "tax_inclusive",
    "paid_at",
    "balance_after",
)
MONEY_FIELDS = (
    "net",
    "tax_total",
    "special_rounding",
    "rounding",
    "total",
    "amount_paid",
    "previous_balance",
    "payments",
    "balance_after",
)
# Expectations of the lifecycle suite (issue 5), allowed in `expect` and in `check` events.
LIFECYCLE_KEYS = {
    "customers",
    "collection_steps",
    "notifications",
    "status_history",
    "subscription_charges",
}
EXPECT_KEYS = {
    "invoices",
    "balances",
    "periods",
    "open_periods",
    "ledger",
    "payment_attempts",
} | LIFECYCLE_KEYS
CHECK_KEYS = {"balances", "invoice_status", "open_periods", "invoice_count"} | LIFECYCLE_KEYS
CUSTOMER_STATE_KEYS = {
    "status",
    "suspension_reason",
    "blocked",
    "terminate_on",
    "suspension_delay_until",
    "balance",
}
# The EngineReport counters a scenario may assert; each must be 0 on the idempotency re-run
# (except errors, which must repeat).
ENGINE_COUNTERS = (
    "periods_closed",
    "periods_awaiting_approval",
    "invoices",
    "fees_charged",
    "collection_steps",
    "status_changes",
    "notifications_queued",
    "payments_collected",
    "payments_declined",
)
ENGINE_REPORT_KEYS = {*ENGINE_COUNTERS, "errors"}
# Steps a scenario's engine event runs when it names none: everything but documents and
# mail (PDFs and SMTP are proven elsewhere).
QUIET_STEPS = ("documents", "mail")
KNOWN_STEPS = (
    "subscriptions",
    "close",
    "collections",
    "collect",
    "notifications",
    "documents",
    "mail",
)
COLLECTION_KINDS = (
    "reminder",
    "late_fee_notice",
    "late_fee",
    "suspension_notice",
    "suspension",
    "termination_notice",
    "termination",
)
ERROR_KEYS = {"type", "field", "code", "message"}
LEDGER_FLAGS = {"hidden", "reset"}


# --------------------------------------------------------------------------------------------
# Loading and validation (no database)


def scenario_paths(suite: str = "invoicing") -> list[Path]:
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; suites are {', '.join(SUITES)}")
    return sorted((GOLDEN_ROOT / suite).glob("*.yaml"))


def default_steps() -> list[str]:
    """The engine's steps but documents and mail."""
    from billcore.engine import STEPS

    return [s for s in STEPS if s not in QUIET_STEPS]


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: a scenario is a mapping")
    return data


def parse_time(value: Any, where: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{where}: {value!r} is not an ISO 8601 date-time") from None
    else:
        raise ValueError(f"{where}: a date-time string is required, got {value!r}")
    if stamp.tzinfo is None:
        raise ValueError(f"{where}: {value!r} needs a time zone (Z or +hh:mm)")
    return stamp.astimezone(dt.UTC)


def money(value: Any, where: str) -> Decimal:
    """A money string with at most 5 decimals (YAML floats are refused: they are not exact)."""
    if not isinstance(value, str):
        raise ValueError(f"{where}: money must be a quoted string, got {value!r}")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{where}: {value!r} is not a decimal number") from None
    if not amount.is_finite() or amount.as_tuple().exponent < -5:  # type: ignore[operator]
        raise ValueError(f"{where}: {value!r} has more than 5 decimals")
    return amount


def validate(data: Mapping[str, Any]) -> list[str]:
    """Everything wrong with the shape of a scenario (empty when it is well formed)."""
    errors: list[str] = []

    def check(cond: bool, message: str) -> None:
        if not cond:
            errors.append(message)

    def guard(fn: Callable[[], object]) -> None:
        try:
            fn()
        except ValueError as exc:
            errors.append(str(exc))

    unknown = set(data) - TOP_KEYS
    check(not unknown, f"unknown top-level keys {sorted(unknown)}")
    for key in REQUIRED_TOP:
        check(key in data, f"{key} is required")
    if errors:
        return errors
    check(isinstance(data["title"], str) and bool(data["title"].strip()), "title: text")
    feats = data["features"]
    check(
        isinstance(feats, list) and bool(feats) and all(FEATURE_ID.match(str(f)) for f in feats),
        "features: a non-empty list of IDs such as CC-10",
    )
    arithmetic = data["arithmetic"]
    check(
        isinstance(arithmetic, str) and len(arithmetic.strip()) >= 40,
        "arithmetic: the hand arithmetic, written out",
    )
    resellers = data.get("resellers") or {}
    classes = data["classes"]
    customers = data["customers"]
    check(isinstance(resellers, dict), "resellers: a mapping")
    check(isinstance(classes, dict) and bool(classes), "classes: a non-empty mapping")
    check(isinstance(customers, dict) and bool(customers), "customers: a non-empty mapping")
    if errors:
        return errors
    for key, cls in classes.items():
        check(isinstance(cls, dict), f"classes.{key}: a mapping")
        if isinstance(cls, dict) and "owner" in cls:
            check(cls["owner"] in resellers, f"classes.{key}.owner: unknown reseller")
    for key, cust in customers.items():
        check(isinstance(cust, dict), f"customers.{key}: a mapping")
        if not isinstance(cust, dict):
            continue
        check(cust.get("class") in classes, f"customers.{key}.class: unknown class")
        guard(lambda c=cust, k=key: parse_time(c.get("created_at"), f"customers.{k}.created_at"))
        if "reseller" in cust:
            check(cust["reseller"] in resellers, f"customers.{key}.reseller: unknown reseller")
    timeline = data["timeline"]
    check(isinstance(timeline, list) and bool(timeline), "timeline: a non-empty list")
    if not isinstance(timeline, list):
        return errors
    last: dt.datetime | None = None
    plans: set[Any] = set()
    for i, event in enumerate(timeline):
        where = f"timeline[{i}]"
        if not isinstance(event, dict):
            errors.append(f"{where}: a mapping")
            continue
        kinds = [k for k in event if k in EVENT_KINDS]
        extra = set(event) - {"at", "error", *EVENT_KINDS}
        check(len(kinds) == 1, f"{where}: exactly one of {', '.join(EVENT_KINDS)}")
        check(not extra, f"{where}: unknown keys {sorted(extra)}")
        try:
            at = parse_time(event.get("at"), f"{where}.at")
        except ValueError as exc:
            errors.append(str(exc))
            continue
        check(last is None or at >= last, f"{where}.at: the timeline goes back in time")
        last = at
        if "error" in event:
            err = event["error"]
            check(
                isinstance(err, dict) and set(err) <= ERROR_KEYS and "code" in err,
                f"{where}.error: a mapping with code (and type, field, message)",
            )
        if len(kinds) != 1:
            continue
        body = event[kinds[0]] or {}
        check(isinstance(body, dict), f"{where}.{kinds[0]}: a mapping")
        if not isinstance(body, dict):
            continue
        kind = kinds[0]
        rated = kind == "usage" and "account" in body
        if rated:
            accounts = data.get("accounts") or {}
            check(body["account"] in accounts, f"{where}.usage.account: unknown")
            check("customer" not in body, f"{where}.usage: account or customer, not both")
            check(
                set(body.get("expect") or {}) <= USAGE_EXPECT_KEYS,
                f"{where}.usage.expect: keys {sorted(USAGE_EXPECT_KEYS)} only",
            )
        elif kind == "measured":
            check(set(body) <= MEASURED_KEYS, f"{where}.measured: keys {sorted(MEASURED_KEYS)}")
            check(
                (body.get("class") in classes) != (body.get("customer") in customers),
                f"{where}.measured: a known class or customer (one of them)",
            )
        elif kind == "sample":
            check(set(body) <= SAMPLE_KEYS, f"{where}.sample: keys {sorted(SAMPLE_KEYS)} only")
        elif kind not in ("engine", "installation", "check", "plan", "did"):
            check(body.get("customer") in customers, f"{where}.{kind}.customer: unknown")
        if kind in ("usage", "transaction", "fee") and not (rated and "amount" not in body):
            guard(lambda b=body, w=where: money(b.get("amount"), f"{w}.amount"))
        if kind == "engine":
            check(
                set(body) <= {"steps", "report"}
                and set(body.get("report") or {}) <= ENGINE_REPORT_KEYS,
                f"{where}.engine: steps and report ({sorted(ENGINE_REPORT_KEYS)}) only",
            )
            steps = body.get("steps")
            check(
                steps is None or (isinstance(steps, list) and set(steps) <= set(KNOWN_STEPS)),
                f"{where}.engine.steps: a list of {', '.join(KNOWN_STEPS)}",
            )
        if kind == "check":
            check(set(body) <= CHECK_KEYS, f"{where}.check: keys {sorted(CHECK_KEYS)} only")
            errors.extend(validate_lifecycle(body, customers, f"{where}.check"))
        if kind == "status":
            check(set(body) <= STATUS_KEYS, f"{where}.status: keys {sorted(STATUS_KEYS)} only")
            check(
                body.get("action") in STATUS_ACTIONS,
                f"{where}.status.action: one of {', '.join(STATUS_ACTIONS)}",
            )
            for name in ("until", "terminate_on"):
                if body.get(name) is not None:
                    guard(lambda b=body, n=name, w=where: parse_time(b[n], f"{w}.status.{n}"))
        if kind == "plan":
            check(set(body) <= PLAN_KEYS, f"{where}.plan: keys {sorted(PLAN_KEYS)} only")
            check(body.get("name") not in plans, f"{where}.plan.name: defined twice")
            guard(lambda b=body, w=where: money(b.get("fee"), f"{w}.plan.fee"))
            plans.add(body.get("name"))
        if kind == "did":
            check(set(body) <= DID_KEYS, f"{where}.did: keys {sorted(DID_KEYS)} only")
            for name in DID_KEYS - {"number", "currency"}:
                if name in body:
                    guard(lambda b=body, n=name, w=where: money(b[n], f"{w}.did.{n}"))
        if kind in ("did_assign", "did_release"):
            check(set(body) <= {"customer", "number"}, f"{where}.{kind}: customer and number")
        if kind in ("subscribe", "unsubscribe"):
            allowed = {"customer", "plan", "start_at", "end_at"}
            check(set(body) <= allowed, f"{where}.{kind}: keys {sorted(allowed)} only")
            check(body.get("plan") in plans, f"{where}.{kind}.plan: no plan event defines it")
            for name in ("start_at", "end_at"):
                if body.get(name) is not None:
                    guard(lambda b=body, n=name, w=f"{where}.{kind}": parse_time(b[n], f"{w}.{n}"))
    expect = data["expect"]
    check(isinstance(expect, dict), "expect: a mapping")
    if not isinstance(expect, dict):
        return errors
    check(set(expect) <= EXPECT_KEYS, f"expect: keys {sorted(EXPECT_KEYS)} only")
    check("invoices" in expect and "balances" in expect, "expect: invoices and balances")
    balances = expect.get("balances") or {}
    check(
        isinstance(balances, dict)
        and set(customers) <= set(balances) <= set(customers) | set(resellers),
        "expect.balances: one balance for every customer (and any reseller)",
    )
    catalogue = data.get("catalogue") or {}
    check(
        isinstance(catalogue, dict) and set(catalogue) <= CATALOGUE_KEYS,
        f"catalogue: keys {sorted(CATALOGUE_KEYS)} only",
    )
    for key, acc in (data.get("accounts") or {}).items():
        check(
            isinstance(acc, dict) and acc.get("customer") in customers,
            f"accounts.{key}.customer: unknown",
        )
    if isinstance(balances, dict):
        for key, value in balances.items():
            guard(lambda v=value, k=key: money(v, f"expect.balances.{k}"))
    for i, inv in enumerate(expect.get("invoices") or []):
        where = f"expect.invoices[{i}]"
        if not isinstance(inv, dict):
            errors.append(f"{where}: a mapping")
            continue
        missing = [k for k in INVOICE_REQUIRED if k not in inv]
        extra = set(inv) - set(INVOICE_REQUIRED) - set(INVOICE_OPTIONAL)
        check(not missing, f"{where}: missing {missing}")
        check(not extra, f"{where}: unknown keys {sorted(extra)}")
        check(
            inv.get("customer") in customers or inv.get("customer") in resellers,
            f"{where}.customer: unknown",
        )
        for name in MONEY_FIELDS:
            if name in inv:
                guard(lambda n=name, v=inv[name], w=where: money(v, f"{w}.{n}"))
        lines = inv.get("lines")
        check(isinstance(lines, list) and bool(lines), f"{where}.lines: a non-empty list")
        for j, ln in enumerate(lines or []):
            ok = isinstance(ln, list) and len(ln) == 3
            check(ok, f"{where}.lines[{j}]: [kind, description, amount]")
            if ok:
                guard(lambda a=ln[2], w=f"{where}.lines[{j}]": money(a, w))
        period = inv.get("period")
        check(isinstance(period, list) and len(period) == 2, f"{where}.period: [start, end]")
    errors.extend(validate_lifecycle(expect, customers, "expect"))
    for key, rows in (expect.get("ledger") or {}).items():
        check(key in customers, f"expect.ledger.{key}: unknown customer")
        for j, row in enumerate(rows or []):
            check(
                isinstance(row, list)
                and len(row) in (2, 3)
                and (len(row) == 2 or set(str(row[2]).split()) <= LEDGER_FLAGS),
                f"expect.ledger.{key}[{j}]: [action, amount] or [action, amount, 'hidden reset']",
            )
    return errors


def validate_lifecycle(
    body: Mapping[str, Any], customers: Mapping[str, Any], where: str
) -> list[str]:
    """The shape of the lifecycle expectations (in `expect` or a `check` event)."""
    errors: list[str] = []

    def check(cond: bool, message: str) -> None:
        if not cond:
            errors.append(message)

    def guard(fn: Callable[[], object]) -> None:
        try:
            fn()
        except ValueError as exc:
            errors.append(str(exc))

    for key, state in (body.get("customers") or {}).items():
        w = f"{where}.customers.{key}"
        check(key in customers, f"{w}: unknown customer")
        check(
            isinstance(state, dict) and set(state) <= CUSTOMER_STATE_KEYS,
            f"{w}: keys {sorted(CUSTOMER_STATE_KEYS)} only",
        )
        if not isinstance(state, dict):
            continue
        if "balance" in state:
            guard(lambda v=state["balance"], w=w: money(v, f"{w}.balance"))
        for name in ("terminate_on", "suspension_delay_until"):
            if state.get(name) is not None:
                guard(lambda v=state[name], n=name, w=w: parse_time(v, f"{w}.{n}"))
    steps = body.get("collection_steps")
    if steps is not None:
        check(isinstance(steps, list), f"{where}.collection_steps: a list")
        for j, row in enumerate(steps if isinstance(steps, list) else []):
            w = f"{where}.collection_steps[{j}]"
            if not (isinstance(row, list) and len(row) == 4):
                errors.append(f"{w}: [invoice number, kind, scheduled_at, done_at]")
                continue
            check(row[1] in COLLECTION_KINDS, f"{w}: kind one of {', '.join(COLLECTION_KINDS)}")
            guard(lambda r=row, w=w: parse_time(r[2], f"{w}.scheduled_at"))
            guard(lambda r=row, w=w: parse_time(r[3], f"{w}.done_at"))
    for name in ("notifications", "status_history"):
        for key, rows in (body.get(name) or {}).items():
            check(key in customers, f"{where}.{name}.{key}: unknown customer")
            check(isinstance(rows, list), f"{where}.{name}.{key}: a list")
            if name == "status_history":
                for j, row in enumerate(rows or []):
                    check(
                        isinstance(row, list) and len(row) == 3,
                        f"{where}.status_history.{key}[{j}]: [from_status, to_status, reason]",
                    )
    charges = body.get("subscription_charges")
    if charges is not None:
        check(isinstance(charges, list), f"{where}.subscription_charges: a list")
        for j, row in enumerate(charges if isinstance(charges, list) else []):
            w = f"{where}.subscription_charges[{j}]"
            if not (isinstance(row, list) and len(row) in (5, 6)):
                errors.append(
                    f"{w}: [customer, plan, period_start, period_end, amount(, skip reason)]"
                )
                continue
            check(row[0] in customers, f"{w}: unknown customer")
            guard(lambda r=row, w=w: parse_time(r[2], f"{w}.period_start"))
            guard(lambda r=row, w=w: parse_time(r[3], f"{w}.period_end"))
            guard(lambda r=row, w=w: money(r[4], f"{w}.amount"))
    return errors


# --------------------------------------------------------------------------------------------
# Playing a scenario (database)


class ScenarioFailure(AssertionError):
    pass


def _eq(actual: Any, expected: Any, where: str) -> None:
    if actual != expected:
        raise ScenarioFailure(f"{where}: expected {expected!r}, got {actual!r}")


class Player:
    def __init__(self, data: Mapping[str, Any], admin: Any) -> None:
        self.data = data
        self.admin = admin
        self.customers: dict[str, Any] = {}
        self.resellers: dict[str, Any] = {}
        self.reseller_users: dict[str, Any] = {}
        self.classes: dict[str, Any] = {}
        self.plans: dict[str, Any] = {}
        self.accounts: dict[str, Any] = {}
        self.tariffs: dict[str, Any] = {}
        self.products: dict[str, Any] = {}

    # ---------------------------------------------------------------- setup

    def setup(self) -> None:
        from billcore.accounts.models import User
        from billcore.classes.services import create_class, get_default_class
        from billcore.installation.models import Currency
        from billcore.installation.services import add_currency, update_settings
        from billcore.ledger.customers import create_customer

        data = self.data
        first = min(parse_time(c["created_at"], "created_at") for c in data["customers"].values())
        setup_at = first - dt.timedelta(days=1)
        if data.get("installation"):
            update_settings(actor=self.admin, now=setup_at, changes=dict(data["installation"]))
        for code in data.get("currencies") or []:
            if not Currency.objects.filter(code=code).exists():
                add_currency(actor=self.admin, now=setup_at, code=code)
        for key, spec in (data.get("resellers") or {}).items():
            spec = dict(spec or {})
            reseller = create_customer(
                actor=self.admin,
                now=setup_at,
                data={
                    "name": spec.pop("name", key),
                    "customer_type": "reseller",
                    "currency": spec.pop("currency", "USD"),
                    "balance_control": "postpaid",
                    "customer_class": get_default_class().pk,
                    **spec,
                },
            )
            self.resellers[key] = reseller
            self.reseller_users[key] = User.objects.create_user(
                username=f"golden-{key}", password="golden-pass-12345", reseller=reseller
            )
        for key, spec in data["classes"].items():
            spec = dict(spec)
            owner = spec.pop("owner", None)
            actor = self.reseller_users[owner] if owner else self.admin
            spec.setdefault("name", key)
            self.classes[key] = create_class(actor=actor, now=setup_at, data=spec)
        for key, spec in data["customers"].items():
            spec = dict(spec)
            created = parse_time(spec.pop("created_at"), "created_at")
            cls = self.classes[spec.pop("class")]
            reseller = spec.pop("reseller", None)
            actor = self.reseller_users[reseller] if reseller else self.admin
            spec.setdefault("name", key)
            spec.setdefault("balance_control", "postpaid")
            spec.setdefault("currency", cls.currency_id or "USD")
            spec["customer_class"] = cls.pk
            self.customers[key] = create_customer(actor=actor, now=created, data=spec)
        # Reseller customers themselves are not part of the scenario's expectations.
        self.setup_catalogue(setup_at)

    def owner_actor(self, spec: dict[str, Any]) -> Any:
        owner = spec.pop("owner", None)
        return self.reseller_users[owner] if owner else self.admin

    def setup_catalogue(self, at: dt.datetime) -> None:
        """The rating catalogue (issue 12) and the accounts with their products."""
        from billcore.rating import services as rating
        from billcore.subscribers.services import create_account

        catalogue = self.data.get("catalogue") or {}
        periods = {}
        for key, expression in (catalogue.get("offpeak_periods") or {}).items():
            periods[key] = rating.create_offpeak_period(
                actor=self.admin, now=at, data={"name": key, "expression": expression}
            )
        for key, spec in (catalogue.get("tariffs") or {}).items():
            spec = dict(spec)
            actor = self.owner_actor(spec)
            rates = spec.pop("rates", [])
            for name in ("offpeak_period", "second_offpeak_period"):
                if name in spec:
                    spec[name] = periods[spec[name]].pk
            spec.setdefault("name", key)
            tariff = rating.create_tariff(actor=actor, now=at, data=spec)
            self.tariffs[key] = tariff
            for row in rates:
                row = dict(row)
                row["effective_from"] = parse_time(row.get("effective_from", at.isoformat()), key)
                rating.create_rate(actor=actor, now=at, tariff_id=tariff.pk, data=row)
        for key, spec in (catalogue.get("products") or {}).items():
            spec = dict(spec)
            actor = self.owner_actor(spec)
            entries = spec.pop("entries", [])
            spec.setdefault("name", key)
            product = rating.create_product(actor=actor, now=at, data=spec)
            self.products[key] = product
            for entry in entries:
                entry = dict(entry)
                wholesale = entry.pop("reseller_tariff", None)
                entry["tariff"] = self.tariffs[entry["tariff"]].pk
                made = rating.create_entry(actor=actor, now=at, product_id=product.pk, data=entry)
                if wholesale:
                    rating.update_entry(
                        actor=self.admin,
                        now=at,
                        product_id=product.pk,
                        entry_id=made.pk,
                        changes={"reseller_tariff": self.tariffs[wholesale].pk},
                    )
        for key, spec in (self.data.get("accounts") or {}).items():
            spec = dict(spec)
            customer = self.customers[spec.pop("customer")]
            actor = self.reseller_actor(customer)
            product = spec.pop("product", None)
            addons = spec.pop("addons", [])
            spec.setdefault("identifier", key)
            account = create_account(actor=actor, now=at, customer_id=customer.pk, data=spec)
            rating.set_account_products(
                actor=actor,
                now=at,
                account_id=account.pk,
                product=self.products[product].pk if product else None,
                addons=[self.products[a].pk for a in addons],
            )
            self.accounts[key] = account
        self.setup_plans(catalogue, at)
        for spec in catalogue.get("overrides") or []:
            customer = self.customers[spec["customer"]]
            rating.create_override(
                actor=self.reseller_actor(customer),
                now=at,
                customer_id=customer.pk,
                data={
                    "master_tariff": self.tariffs[spec["master_tariff"]].pk,
                    "override_tariff": self.tariffs[spec["override_tariff"]].pk,
                },
            )

    def setup_plans(self, catalogue: Mapping[str, Any], at: dt.datetime) -> None:
        """Issue 13: destination groups and volume discount plans (rules with their bands,
        assigned to products, accounts or customers from ``valid_from``)."""
        from decimal import Decimal

        from billcore.plans.models import DiscountPlan, PlanAssignment, PlanBand, PlanRule
        from billcore.rating import services as rating
        from billcore.rating.models import Destination

        groups = {}
        for key, prefixes in (catalogue.get("destination_groups") or {}).items():
            for prefix in prefixes:
                if not Destination.objects.filter(prefix=prefix).exists():
                    rating.create_destination(actor=self.admin, now=at, data={"prefix": prefix})
            groups[key] = rating.create_destination_group(
                actor=self.admin, now=at, data={"name": key, "prefixes": list(prefixes)}
            )
        for key, spec in (catalogue.get("discount_plans") or {}).items():
            plan = DiscountPlan.objects.create(
                name=key,
                currency_id=spec.get("currency", "USD"),
                draft=False,
                created_at=at,
                updated_at=at,
            )
            for rule in spec.get("rules") or []:
                rule = dict(rule)
                bands = rule.pop("bands", [])
                group = rule.pop("destination_group", None)
                for name in ("volume", "initial_volume"):
                    if name in rule:
                        rule[name] = Decimal(str(rule[name]))
                made = PlanRule.objects.create(
                    plan=plan,
                    service_id=rule.pop("service", "voice"),
                    destination_group=groups[group] if group else None,
                    created_at=at,
                    updated_at=at,
                    **rule,
                )
                for threshold, percent in bands:
                    PlanBand.objects.create(
                        rule=made, threshold=Decimal(str(threshold)), percent=Decimal(str(percent))
                    )
            valid_from = parse_time(spec.get("valid_from", at.isoformat()), key)
            for target in spec.get("assign") or []:
                ((kind, name),) = target.items()
                holder = {"product": self.products, "account": self.accounts}.get(kind)
                obj = holder[name] if holder is not None else self.customers[name]
                PlanAssignment.objects.create(
                    plan=plan, valid_from=valid_from, created_at=at, **{kind: obj}
                )

    def reseller_actor(self, customer: Any) -> Any:
        for key, reseller in self.resellers.items():
            if reseller.pk == customer.reseller_id:
                return self.reseller_users[key]
        return self.admin

    # ---------------------------------------------------------------- timeline

    def cid(self, key: str) -> int:
        if key not in self.customers and key in self.resellers:
            return int(self.resellers[key].pk)
        return int(self.customers[key].pk)

    def play_event(self, i: int, event: Mapping[str, Any]) -> None:
        from billcore.errors import BillcoreError

        at = parse_time(event["at"], "at")
        kind = next(k for k in event if k in EVENT_KINDS)
        body = dict(event[kind] or {})
        where = f"timeline[{i}] ({kind} at {event['at']})"
        expected_error = event.get("error")
        try:
            getattr(self, f"do_{kind}")(at, body, where)
        except BillcoreError as exc:
            if expected_error is None:
                raise ScenarioFailure(f"{where}: unexpected {type(exc).__name__}: {exc}") from exc
            got = {
                "type": type(exc).__name__,
                "field": exc.field,
                "code": exc.code,
                "message": exc.message,
            }
            _eq({k: got[k] for k in expected_error}, dict(expected_error), f"{where} error")
            return
        if expected_error is not None:
            raise ScenarioFailure(f"{where}: expected the error {expected_error}, nothing raised")

    def do_usage(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        from billcore.charging.models import Xdr
        from billcore.charging.services import charge, parse_usage

        allowed = body.pop("allowed", True)
        expect = body.pop("expect", None) or {}
        target: dict[str, Any]
        if "account" in body:
            target = {"account_id": self.accounts[body.pop("account")].pk}
        else:
            target = {"customer_id": self.cid(body.pop("customer"))}
        usage = parse_usage(started_at=at, now=at, **body)
        result = charge(actor=self.admin, now=at, usage=usage, **target)
        _eq(result.allowed, allowed, f"{where}: charge allowed ({result.reason})")
        if not expect:
            return
        xdr = Xdr.objects.get(pk=result.xdr_id)
        got = {
            "amount": xdr.amount,
            "charged_quantity": xdr.charged_quantity,
            "base_quantity": xdr.base_quantity,
            "rate_prefix": xdr.rate_prefix,
            "price_set": xdr.price_set,
            "tariff": next((k for k, t in self.tariffs.items() if t.pk == xdr.tariff_id), None),
            "reason": xdr.deny_reason,
            "reseller_amount": xdr.reseller_amount,
            "parts": [
                [kind, f"{units.normalize():f}", f"{amount.normalize():f}"]
                for kind, units, amount in xdr.plan_parts.exclude(kind="count")
                .order_by("position")
                .values_list("kind", "units", "amount")
            ],
        }
        for name, value in expect.items():
            if name in ("amount", "reseller_amount"):
                value = money(value, f"{where}.expect.{name}")
            if name == "parts":
                value = [
                    [k, f"{Decimal(u).normalize():f}", f"{Decimal(a).normalize():f}"]
                    for k, u, a in value
                ]
            _eq(got[name], value, f"{where}: xdr.{name}")

    def do_transaction(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        from billcore.invoicing.settling import record_transaction

        customer = body.pop("customer")
        record_transaction(actor=self.admin, now=at, customer_id=self.cid(customer), **body)

    def do_measured(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        from billcore.measured.services import set_class_service, set_customer_service

        metric = body.pop("metric")
        if "class" in body:
            cls = self.classes[body.pop("class")]
            set_class_service(actor=self.admin, now=at, class_id=cls.pk, metric=metric, data=body)
        else:
            customer_id = self.cid(body.pop("customer"))
            set_customer_service(
                actor=self.admin, now=at, customer_id=customer_id, metric=metric, data=body
            )

    def do_sample(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        """The sampler at ``at`` and then once a day for ``days`` days in all, except on the
        ``skip`` dates (missed: nothing is read those days)."""
        from billcore.measured.sampler import take_samples

        skip = {dt.date.fromisoformat(d) for d in body.get("skip") or []}
        for n in range(int(body.get("days", 1))):
            when = at + dt.timedelta(days=n)
            if when.date() not in skip:
                take_samples(now=when)

    def do_fee(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        customer = body.pop("customer")
        _charge_fee(actor=self.admin, now=at, customer_id=self.cid(customer), **body)

    def do_approve(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        from billcore.invoicing.closing import approve_period
        from billcore.invoicing.models import ClosedPeriod, PeriodStatus

        waiting = ClosedPeriod.objects.filter(
            customer_id=self.cid(body["customer"]), status=PeriodStatus.AWAITING_APPROVAL
        ).order_by("start")
        if "start" in body:
            waiting = waiting.filter(start=parse_time(body["start"], f"{where}.start"))
        period = waiting.first()
        if period is None:
            raise ScenarioFailure(f"{where}: no period waiting for approval")
        approve_period(actor=self.admin, now=at, period_id=period.pk)

    def do_out_of_turn(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        from billcore.invoicing.issuing import issue_out_of_turn_invoice

        issue_out_of_turn_invoice(actor=self.admin, now=at, customer_id=self.cid(body["customer"]))

    def do_save_card(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        from billcore.invoicing.payments import save_payment_method

        save_payment_method(
            actor=self.admin,
            now=at,
            customer_id=self.cid(body["customer"]),
            data={
                "card_number": body["number"],
                "exp_month": body["exp_month"],
                "exp_year": body["exp_year"],
            },
        )

    def do_installation(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        from billcore.installation.services import update_settings

        update_settings(actor=self.admin, now=at, changes=body)

    def do_status(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        from billcore.customers import lifecycle
        from billcore.invoicing import closing

        cid = self.cid(body["customer"])
        action = body["action"]
        common = {"actor": self.admin, "now": at, "customer_id": cid}
        if action in ("block", "unblock"):
            lifecycle.set_blocked(**common, blocked=action == "block")
        elif action == "suspend":
            lifecycle.suspend(**common, reason="manual")
        elif action == "unsuspend":
            lifecycle.unsuspend(**common)
        elif action == "lift_suspension_until":
            until = body.get("until")
            lifecycle.lift_suspension_until(
                **common, until=parse_time(until, f"{where}.until") if until else None
            )
        elif action == "terminate":
            on = body.get("terminate_on")
            closing.terminate(
                **common,
                permanent=bool(body.get("permanent", False)),
                terminate_on=parse_time(on, f"{where}.terminate_on") if on else None,
                midterm_invoice=bool(body.get("midterm_invoice", False)),
            )
        elif action == "reactivate":
            lifecycle.reactivate(**common)
        elif action in ("export", "clear_export"):
            lifecycle.set_exported(**common, exported=action == "export")
        else:  # pragma: no cover - validate() refuses it
            raise ScenarioFailure(f"{where}: unknown status action {action!r}")

    def do_plan(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        from billcore.subscriptions.services import create_plan

        self.plans[body["name"]] = create_plan(actor=self.admin, now=at, data=body)

    def do_subscribe(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        from billcore.subscriptions.services import subscribe

        data = {"plan": self.plans[body["plan"]].pk, "start_at": body.get("start_at", at)}
        if body.get("end_at") is not None:
            data["end_at"] = body["end_at"]
        subscribe(actor=self.admin, now=at, customer_id=self.cid(body["customer"]), data=data)

    def do_did(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        from billcore.dids import services as dids

        fees = ("additional_activation_fee", "additional_recurring_fee", "recurring_markup_percent")
        currency = body.get("currency", "USD")
        batch = dids.create_pricing_batch(
            actor=self.admin,
            now=at,
            data={"name": f"Batch {body['number']}", "currency": currency}
            | {k: body[k] for k in fees if k in body},
        )
        data = {k: v for k, v in body.items() if k not in fees}
        dids.create_did(
            actor=self.admin,
            now=at,
            data={"vendor_batch": "Golden", "currency": currency, "pricing_batch": batch.pk} | data,
        )

    def _did_id(self, number: str) -> int:
        from billcore.dids.models import Did

        return int(Did.objects.get(number=number).pk)

    def do_did_assign(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        from billcore.dids import services as dids

        dids.assign(
            actor=self.admin,
            now=at,
            did_id=self._did_id(body["number"]),
            customer_id=self.cid(body["customer"]),
        )

    def do_did_release(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        from billcore.dids import services as dids

        dids.release(actor=self.admin, now=at, did_id=self._did_id(body["number"]))

    def do_unsubscribe(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        from billcore.subscriptions.models import Subscription
        from billcore.subscriptions.services import end_subscription

        sub = (
            Subscription.objects.filter(
                customer_id=self.cid(body["customer"]), plan=self.plans[body["plan"]]
            )
            .order_by("-id")
            .first()
        )
        if sub is None:
            raise ScenarioFailure(f"{where}: {body['customer']} has no {body['plan']} subscription")
        end_subscription(
            actor=self.admin, now=at, subscription_id=sub.pk, end_at=body.get("end_at", at)
        )

    def run_engine(self, at: dt.datetime, steps: list[str]) -> Any:
        from billcore.engine import run

        return run(now=at, steps=steps)

    def do_engine(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        steps = list(body.get("steps") or default_steps())
        report = self.run_engine(at, steps)
        wanted = body.get("report") or {}
        for name, value in wanted.items():
            if name == "errors":
                got = [(self.key_of(c), m) for c, m in report.errors]
                exp = [(e["customer"], e["message"]) for e in value]
                _eq(got, exp, f"{where}: report.errors")
            else:
                _eq(getattr(report, name), value, f"{where}: report.{name}")
        if "errors" not in wanted and report.errors:
            raise ScenarioFailure(f"{where}: unexpected engine errors {report.errors}")
        # Idempotency: the same run again changes nothing.
        before = self.snapshot()
        again = self.run_engine(at, steps)
        after = self.snapshot()
        if before != after:
            diff = [k for k in before if before[k] != after[k]]
            raise ScenarioFailure(f"{where}: a second engine run changed {diff}")
        _eq(
            {name: getattr(again, name) for name in ENGINE_COUNTERS},
            dict.fromkeys(ENGINE_COUNTERS, 0),
            f"{where}: second engine run report",
        )
        _eq(again.errors, report.errors, f"{where}: second engine run errors")

    def do_check(self, at: dt.datetime, body: dict[str, Any], where: str) -> None:
        from billcore.customers.models import Customer
        from billcore.invoicing.models import Invoice

        for key, value in (body.get("balances") or {}).items():
            balance = Customer.objects.values_list("balance", flat=True).get(pk=self.cid(key))
            _eq(balance, money(value, where), f"{where}: balance of {key}")
        for number, status in (body.get("invoice_status") or {}).items():
            inv = Invoice.objects.get(number=self.number(number))
            _eq(inv.status, status, f"{where}: status of {number}")
        if "invoice_count" in body:
            _eq(Invoice.objects.count(), body["invoice_count"], f"{where}: invoice count")
        self.check_open_periods(body.get("open_periods") or {}, where)
        self.check_lifecycle(body, where)

    # ---------------------------------------------------------------- checks

    def key_of(self, customer_id: int) -> str:
        for key, c in self.customers.items():
            if c.pk == customer_id:
                return key
        return f"#{customer_id}"

    def number(self, text: str) -> str:
        return text.format(**{k: r.pk for k, r in self.resellers.items()})

    def snapshot(self) -> dict[str, Any]:
        from billcore.customers.models import Customer, StatusChange
        from billcore.invoicing.models import (
            ClosedPeriod,
            CollectionStep,
            Invoice,
            InvoiceCounter,
            InvoiceLine,
            PaymentAttempt,
        )
        from billcore.ledger.models import Transaction
        from billcore.notifications.models import OutboundEmail
        from billcore.subscriptions.models import Subscription, SubscriptionCharge

        def rows(qs: Any) -> list[tuple[Any, ...]]:
            return [tuple(sorted(r.items())) for r in qs.values()]

        return {
            "customers": rows(Customer.objects.order_by("pk")),
            "periods": rows(ClosedPeriod.objects.order_by("pk")),
            "invoices": rows(Invoice.objects.order_by("pk")),
            "lines": rows(InvoiceLine.objects.order_by("pk")),
            "counters": rows(InvoiceCounter.objects.order_by("pk")),
            "ledger": rows(Transaction.objects.order_by("pk")),
            "attempts": rows(PaymentAttempt.objects.order_by("pk")),
            "emails": rows(OutboundEmail.objects.order_by("pk")),
            "collection_steps": rows(CollectionStep.objects.order_by("pk")),
            "status_changes": rows(StatusChange.objects.order_by("pk")),
            "subscriptions": rows(Subscription.objects.order_by("pk")),
            "subscription_charges": rows(SubscriptionCharge.objects.order_by("pk")),
        }

    def check_open_periods(self, spec: Mapping[str, Any], where: str) -> None:
        from billcore.customers.models import Customer

        for key, (start, end) in spec.items():
            got = Customer.objects.values_list("billed_to", "next_billed_to").get(pk=self.cid(key))
            _eq(
                got,
                (parse_time(start, where), parse_time(end, where)),
                f"{where}: open period of {key}",
            )

    def check_lifecycle(self, spec: Mapping[str, Any], where: str) -> None:
        """The lifecycle expectations (issue 5): customers' states, collection steps,
        notifications, status history and subscription charges, each compared exactly."""
        from billcore.customers.models import Customer, StatusChange
        from billcore.invoicing.models import CollectionStep
        from billcore.notifications.models import OutboundEmail
        from billcore.subscriptions.models import SubscriptionCharge

        def when(value: Any, w: str) -> dt.datetime | None:
            return None if value is None else parse_time(value, w)

        for key, state in (spec.get("customers") or {}).items():
            c = Customer.objects.get(pk=self.cid(key))
            for name, value in state.items():
                w = f"{where}.customers.{key}.{name}"
                if name == "balance":
                    _eq(c.balance, money(value, w), w)
                elif name in ("terminate_on", "suspension_delay_until"):
                    _eq(getattr(c, name), when(value, w), w)
                else:
                    _eq(getattr(c, name), value, w)
        ids = [self.cid(k) for k in self.customers]
        if "collection_steps" in spec:
            got = [
                [s.invoice.number, s.kind, s.scheduled_at, s.done_at]
                for s in CollectionStep.objects.filter(customer_id__in=ids)
                .select_related("invoice")
                .order_by("id")
            ]
            w = f"{where}.collection_steps"
            exp = [
                [self.number(n), k, parse_time(a, w), parse_time(b, w)]
                for n, k, a, b in spec["collection_steps"]
            ]
            _eq(got, exp, w)
        for key, kinds in (spec.get("notifications") or {}).items():
            got_kinds = list(
                OutboundEmail.objects.filter(customer_id=self.cid(key), kind="notification")
                .order_by("id")
                .values_list("notification", flat=True)
            )
            _eq(got_kinds, list(kinds), f"{where}.notifications.{key}")
        for key, rows in (spec.get("status_history") or {}).items():
            got_rows = [
                [r.from_status, r.to_status, r.reason]
                for r in StatusChange.objects.filter(customer_id=self.cid(key)).order_by("at", "id")
            ]
            _eq(got_rows, [list(r) for r in rows], f"{where}.status_history.{key}")
        if "subscription_charges" in spec:
            w = f"{where}.subscription_charges"
            got_charges = []
            for ch in (
                SubscriptionCharge.objects.filter(subscription__customer_id__in=ids)
                .select_related("subscription__plan")
                .order_by("id")
            ):
                row = [
                    self.key_of(ch.subscription.customer_id),
                    ch.subscription.plan.name,
                    ch.period_start,
                    ch.period_end,
                    ch.amount,
                ]
                got_charges.append(row + ([ch.skipped] if ch.skipped else []))
            exp_charges = [
                [r[0], r[1], parse_time(r[2], w), parse_time(r[3], w), money(r[4], w), *r[5:]]
                for r in spec["subscription_charges"]
            ]
            _eq(got_charges, exp_charges, w)

    def check_expectations(self) -> None:
        from billcore.customers.models import Customer
        from billcore.invoicing.models import (
            SUMMED_LINE_KINDS,
            ClosedPeriod,
            Invoice,
            PaymentAttempt,
        )
        from billcore.ledger.models import Transaction
        from tests.support import ledger_sum

        expect = self.data["expect"]
        ids = [self.cid(k) for k in self.customers]
        # Always: the ledger sums to the balance; invoice lines add up to the total.
        for key in self.customers:
            balance = Customer.objects.values_list("balance", flat=True).get(pk=self.cid(key))
            _eq(ledger_sum(customer_id=self.cid(key)), balance, f"ledger sum of {key}")
        for inv in Invoice.objects.all():
            summed = sum(
                (ln.amount for ln in inv.lines.all() if ln.kind in SUMMED_LINE_KINDS), Decimal(0)
            )
            _eq(summed, inv.total, f"Σ lines of {inv.number}")
            # The invoice's own summary reconciles (issue 10 §5).
            _eq(
                inv.previous_balance + inv.payments + inv.total,
                inv.balance_after,
                f"previous balance + payments + total = balance after of {inv.number}",
            )
        # Balances.
        for key, value in expect["balances"].items():
            balance = Customer.objects.values_list("balance", flat=True).get(pk=self.cid(key))
            _eq(balance, money(value, "balance"), f"expect.balances.{key}")
        # Invoices: exactly the expected ones.
        wanted = expect.get("invoices") or []
        actual = Invoice.objects.filter(customer_id__in=ids).order_by("id")
        _eq(
            {k: actual.filter(customer_id=self.cid(k)).count() for k in self.customers},
            {k: sum(1 for w in wanted if w["customer"] == k) for k in self.customers},
            "invoice count per customer",
        )
        _eq(Invoice.objects.count(), len(wanted), "invoice count (all customers)")
        for spec in wanted:
            self.check_invoice(spec)
        if "periods" in expect:
            got_periods = [
                {
                    "customer": self.key_of(p.customer_id),
                    "start": p.start,
                    "end": p.end,
                    "status": p.status,
                    "approve_by": p.approve_by,
                }
                for p in ClosedPeriod.objects.filter(customer_id__in=ids).order_by(
                    "customer_id", "start"
                )
            ]
            exp_periods = [
                {
                    "customer": p["customer"],
                    "start": parse_time(p["start"], "periods.start"),
                    "end": parse_time(p["end"], "periods.end"),
                    "status": p["status"],
                    "approve_by": parse_time(p["approve_by"], "periods.approve_by")
                    if p.get("approve_by")
                    else None,
                }
                for p in sorted(expect["periods"], key=lambda p: self.cid(p["customer"]))
            ]
            _eq(got_periods, exp_periods, "expect.periods")
        self.check_open_periods(expect.get("open_periods") or {}, "expect.open_periods")
        for key, rows in (expect.get("ledger") or {}).items():
            got_rows = []
            for t in Transaction.objects.filter(customer_id=self.cid(key)).order_by("id"):
                flags = " ".join(
                    f for f, on in (("hidden", t.hidden), ("reset", t.balance_reset)) if on
                )
                got_rows.append([t.action, t.amount] + ([flags] if flags else []))
            exp_rows = [
                [r[0], money(r[1], f"ledger.{key}")]
                + ([" ".join(sorted(str(r[2]).split()))] if len(r) == 3 else [])
                for r in rows
            ]
            _eq(got_rows, exp_rows, f"expect.ledger.{key}")
        self.check_lifecycle(expect, "expect")
        if "payment_attempts" in expect:
            got_attempts = [
                {
                    "invoice": a.invoice.number,
                    "amount": a.amount,
                    "approved": a.approved,
                    "decline_reason": a.decline_reason,
                }
                for a in PaymentAttempt.objects.filter(customer_id__in=ids).order_by("id")
            ]
            exp_attempts = [
                {
                    "invoice": self.number(a["invoice"]),
                    "amount": money(a["amount"], "payment_attempts.amount"),
                    "approved": a["approved"],
                    "decline_reason": a.get("decline_reason", ""),
                }
                for a in expect["payment_attempts"]
            ]
            _eq(got_attempts, exp_attempts, "expect.payment_attempts")

    def check_invoice(self, spec: Mapping[str, Any]) -> None:
        from billcore.invoicing.models import Invoice

        number = self.number(spec["number"])
        inv = Invoice.objects.filter(number=number, customer_id=self.cid(spec["customer"])).first()
        if inv is None:
            raise ScenarioFailure(f"invoice {number} of {spec['customer']} does not exist")
        where = f"invoice {number}"
        _eq(inv.kind, spec["kind"], f"{where}.kind")
        _eq(
            (inv.period_start, inv.period_end),
            (parse_time(spec["period"][0], where), parse_time(spec["period"][1], where)),
            f"{where}.period",
        )
        _eq(inv.issued_at, parse_time(spec["issued_at"], where), f"{where}.issued_at")
        _eq(inv.due_at, parse_time(spec["due_at"], where), f"{where}.due_at")
        _eq(inv.status, spec["status"], f"{where}.status")
        for name in MONEY_FIELDS:
            if name in spec:
                _eq(getattr(inv, name), money(spec[name], where), f"{where}.{name}")
        if "tax_inclusive" in spec:
            _eq(inv.tax_inclusive, spec["tax_inclusive"], f"{where}.tax_inclusive")
        if "paid_at" in spec:
            paid_at = parse_time(spec["paid_at"], where) if spec["paid_at"] else None
            _eq(inv.paid_at, paid_at, f"{where}.paid_at")
        got_lines = [[ln.kind, ln.description, ln.amount] for ln in inv.lines.order_by("position")]
        exp_lines = [[k, d, money(a, where)] for k, d, a in spec["lines"]]
        _eq(got_lines, exp_lines, f"{where}.lines")


def play(data: Mapping[str, Any], *, admin: Any) -> None:
    """Set up, play the timeline and check every expectation (raises ScenarioFailure)."""
    from django.test import override_settings

    problems = validate(data)
    if problems:
        raise ScenarioFailure("malformed scenario: " + "; ".join(problems))
    with override_settings(BILLCORE_PAYMENT_GATEWAY="test"):
        player = Player(data, admin)
        player.setup()
        for i, event in enumerate(data["timeline"]):
            player.play_event(i, event)
        player.check_expectations()


def _charge_fee(
    *, actor: Any, now: dt.datetime, customer_id: int, amount: Any, description: Any = ""
) -> None:
    """A scenario's ``fee``: a subscription (recurring) fee as a ledger row of its own, the
    kind of row CC-14's recurring-fee invoices bill apart. The product posts these from the
    subscriptions engine; a scenario posts one at a time it chooses, through the ledger."""
    from django.db import transaction

    from billcore.customers.selectors import get_customer
    from billcore.ledger.models import Action
    from billcore.ledger.postings import post_locked
    from billcore.locks import lock_row
    from billcore.validation import as_money, as_str

    fee = as_money("amount", amount, allow_none=False)
    assert fee is not None and fee > 0, f"fee amount {amount!r} must be positive"
    text = (
        as_str("description", description, max_length=500, single_line=False) or "Subscription fee"
    )
    with transaction.atomic():
        visible = get_customer(actor=actor, customer_id=customer_id)
        lock_row(type(visible).objects.all(), visible.pk)
        post_locked(
            customer_id=visible.pk,
            action=Action.SUBSCRIPTION,
            amount=fee,
            now=now,
            visible_comment=text,
        )
