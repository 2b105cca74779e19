"""``billcore demo``: a realistic demo data set, built only through the services.

What it loads (on top of what the migrations seed):

* business models SIP trunking and Residential VoIP (CC-05); currencies CAD and MYR;
  custom fields ``tax_id`` (text) and ``contract_date`` (date) (CU-11);
* administrator classes Retail USD (Fixed VAT 20 % exclusive, statistics summary by e-mail),
  Business EUR (two named taxes, period closed upon approval within 5 days, custom rounding
  ``XXXXX.X5000``, ``tax_id`` mandatory), Malaysia (MYR, GST), Prepaid Anywhere (no currency),
  UK SIP Trunking (GBP, ``contract_date`` mandatory, concurrent calls above 10 charged 5.00
  each as a measured service) and Wholesale Partners (no currency, the
  resellers' own class);
* two resellers, Northwind Telecom (CAD, Canada) and Blue Fibre Networks (GBP, United
  Kingdom), each with one user (``northwind``, ``bluefibre``) that has no usable password
  and that creates its reseller's class and sub-customers itself (CC-07);
* ``customers`` end customers (companies and people, prepaid and postpaid, a few blocked)
  whose currency, country, address and phone fit their class's region, each with a history
  of 1-6 balance adjustments over the last 90 days (CU-12), all through the ledger;
* a running business (``demo.business``, issue 17 item 14): voice tariffs per currency
  (1, 44, 4420, 447, 49, 33, 60 and ``|``; off-peak on USD, 60/6 on EUR, a connection fee on
  GBP), data and messaging tariffs, a main product per currency, the add-on International
  Saver, one business customer's override tariff, each reseller's product with the
  administrator's wholesale tariff; 1-5 accounts per customer with their products;
  subscriptions for most postpaid customers; ~90 days of calls, data and messages priced by
  the catalogue and charged at their times;
* the engine's history: test mode on, the engine run every 3 days over the past (periods
  closed, invoices issued, fees, collections that suspend customers with overdue invoices),
  payments recorded between the runs (most invoices paid, some partly, some overdue), one
  invoice voided, a last run at ``now`` and test mode off. Nothing is dated after ``now``, so
  the first real engine run closes nothing that ended before the load (no backlog); it
  renders the invoices' PDFs, and the invoice e-mails wait until SMTP is configured.

Everything is drawn from ``random.Random(seed)``: the same seed gives the same classes,
resellers, customers, catalogue and accounts (names and ids). The history is laid out
backwards from the moment of the load (usage over the last days, the engine's periods), so
its counts and invoice numbers differ a little from one load to the next.
The whole load is one database transaction: it is there entirely or not at all. A second
run finds the first demo customer and changes nothing.

The acting administrator is the first active superuser; without one, a system user
``demo-admin`` with an unusable password is created. No password is ever set here.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.db.models.functions import Lower
from django.utils import timezone

from billcore.accounts.access import Actor
from billcore.accounts.models import User
from billcore.charging.models import Xdr
from billcore.classes.models import CustomerClass
from billcore.classes.services import create_class
from billcore.customers.models import Customer, CustomerType
from billcore.demo.business import BusinessLoader
from billcore.engine.models import EngineRun
from billcore.errors import BillcoreError, ValidationFailed
from billcore.installation.models import BusinessModel, Currency, CustomField
from billcore.installation.services import (
    add_currency,
    create_business_model,
    create_custom_field,
)
from billcore.invoicing.models import Invoice
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.measured.services import set_class_service
from billcore.rating.models import Product, Tariff
from billcore.subscribers.models import Account
from billcore.subscriptions.models import Subscription

FIRST_CUSTOMER = "Northwind Telecom"
SYSTEM_USER = "demo-admin"
HISTORY_DAYS = 90
CENTS = Decimal("0.01")


class DemoAlreadyLoaded(BillcoreError):
    """The demo's first customer exists: the demo was loaded before."""

    status = 409
    default_code = "demo_already_loaded"


@dataclass(frozen=True)
class DemoSummary:
    """Totals of the installation after the load, and how it was done."""

    business_models: int
    classes: int
    resellers: int
    customers: int  # end customers (not resellers)
    transactions: int
    tariffs: int
    products: int
    accounts: int
    subscriptions: int
    xdrs: int
    engine_runs: int
    invoices: tuple[tuple[str, int], ...]  # (status, count)
    voided: str
    emails_cancelled: int
    actor: str
    created_system_user: bool
    reseller_users: tuple[str, ...]

    def __str__(self) -> str:
        lines = [
            f"Demo loaded: {self.business_models} business models, {self.classes} classes, "
            f"{self.resellers} resellers, {self.customers} customers, "
            f"{self.transactions} transactions.",
            f"Catalogue: {self.tariffs} tariffs, {self.products} products; {self.accounts} "
            f"accounts, {self.subscriptions} subscriptions, {self.xdrs} xDRs.",
            f"History: {self.engine_runs} engine runs in test mode (now off); invoices "
            + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in self.invoices)
            + (f" (void: {self.voided})." if self.voided else ".")
            + (
                f" The history's {self.emails_cancelled} e-mails are marked never to be sent."
                if self.emails_cancelled
                else ""
            ),
        ]
        if self.created_system_user:
            lines.append(
                f"No superuser existed: created the system user {self.actor!r} (it has no "
                "usable password and cannot sign in); run `billcore createadmin` for an "
                "administrator."
            )
        else:
            lines.append(f"Loaded as administrator {self.actor!r}.")
        lines.append(
            "Reseller users "
            + ", ".join(repr(u) for u in self.reseller_users)
            + " have no password: an administrator sets one before they can sign in "
            f"(Users page, or billcore user password {self.reseller_users[0]})."
        )
        return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Regions: names, addresses and phone numbers that fit a country and its currency.
# Phone numbers use ranges reserved for fiction (555-01xx, Ofcom's drama ranges, …) and
# e-mail addresses the reserved ``.example`` top-level domain.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class City:
    name: str
    state: str
    zip_code: str
    time_zone: str
    phone_prefix: str


@dataclass(frozen=True)
class Region:
    country: str
    cities: tuple[City, ...]
    streets: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    company_words: tuple[str, ...]
    company_kinds: tuple[str, ...]
    company_forms: tuple[str, ...]
    house_number_first: bool = True
    tax_id_format: str = ""  # "#" → a digit
    # (first name, last name, as the name is written) where first x last does not fit.
    people: tuple[tuple[str, str, str], ...] = ()

    def person(self, rng: random.Random) -> tuple[str, str, str]:
        if self.people:
            return rng.choice(self.people)
        first, last = rng.choice(self.first_names), rng.choice(self.last_names)
        return first, last, f"{first} {last}"

    def company(self, rng: random.Random) -> str:
        """A company name: "<word> <kind> <form>", "<surname> <kind> <form>" or
        "<surname> & <surname> <form>"."""
        form = rng.choice(self.company_forms)
        roll = rng.random()
        surnames = self.last_names or tuple(p[1] for p in self.people if " " not in p[1])
        if roll < 0.5 or not surnames:
            return f"{rng.choice(self.company_words)} {rng.choice(self.company_kinds)} {form}"
        if roll < 0.8:
            return f"{rng.choice(surnames)} {rng.choice(self.company_kinds)} {form}"
        first, second = rng.sample(sorted(set(surnames)), 2)
        return f"{first} & {second} {form}"


def _malaysian_people() -> tuple[tuple[str, str, str], ...]:
    """Malay names with their patronymic, Chinese names family name first, Indian names."""
    malay = (
        ("Ahmad Faizal", "bin Ismail"),
        ("Nurul Aisyah", "binti Rahman"),
        ("Muhammad Hafiz", "bin Hassan"),
        ("Siti Hajar", "binti Abdullah"),
        ("Farah Nadia", "binti Osman"),
        ("Aiman Hakimi", "bin Yusof"),
        ("Nur Izzati", "binti Kamal"),
        ("Mohd Azlan", "bin Razak"),
    )
    chinese_family = ("Tan", "Lim", "Wong", "Ong", "Lee", "Chong", "Ng")
    chinese_given = ("Wei Ming", "Mei Ling", "Kar Hoe", "Jia Hui", "Chee Keong", "Siew Lan")
    indian_given = ("Rajesh", "Priya", "Arjun", "Kavitha", "Suresh", "Deepa")
    indian_family = ("Nair", "Pillai", "Subramaniam", "Menon", "Krishnan")
    people = [(first, last, f"{first} {last}") for first, last in malay]
    people += [(g, f, f"{f} {g}") for f in chinese_family for g in chinese_given]
    people += [(g, f, f"{g} {f}") for g in indian_given for f in indian_family]
    return tuple(people)


def _cities(*rows: tuple[str, str, str, str, str]) -> tuple[City, ...]:
    return tuple(City(*row) for row in rows)


REGIONS: dict[str, Region] = {
    "US": Region(
        country="US",
        cities=_cities(
            ("Austin", "TX", "78701", "America/Chicago", "+1 512 555 01"),
            ("Denver", "CO", "80202", "America/Denver", "+1 303 555 01"),
            ("Portland", "OR", "97205", "America/Los_Angeles", "+1 503 555 01"),
            ("Columbus", "OH", "43215", "America/New_York", "+1 614 555 01"),
            ("Raleigh", "NC", "27601", "America/New_York", "+1 919 555 01"),
            ("Madison", "WI", "53703", "America/Chicago", "+1 608 555 01"),
            ("Tucson", "AZ", "85701", "America/Phoenix", "+1 520 555 01"),
        ),
        streets=(
            "Maple Avenue",
            "Oak Street",
            "Main Street",
            "Cedar Lane",
            "Elm Street",
            "Washington Boulevard",
            "Lakeview Drive",
            "Pine Road",
        ),
        first_names=(
            "James",
            "Mary",
            "Robert",
            "Patricia",
            "Michael",
            "Jennifer",
            "David",
            "Linda",
            "Daniel",
            "Susan",
            "Kevin",
            "Emily",
            "Jason",
            "Ashley",
            "Marcus",
            "Rosa",
        ),
        last_names=(
            "Johnson",
            "Williams",
            "Brown",
            "Miller",
            "Davis",
            "Garcia",
            "Wilson",
            "Anderson",
            "Taylor",
            "Thomas",
            "Moore",
            "Martinez",
            "Jackson",
            "Thompson",
            "Nguyen",
            "Harris",
        ),
        company_words=("Summit", "Lone Star", "Evergreen", "Bluebird", "Riverside", "Keystone"),
        company_kinds=("Dental", "Logistics", "Realty", "Plumbing", "Consulting", "Bakery"),
        company_forms=("LLC", "Inc.", "Co."),
        tax_id_format="##-#######",
    ),
    "CA": Region(
        country="CA",
        cities=_cities(
            ("Toronto", "ON", "M5V 2T6", "America/Toronto", "+1 416 555 01"),
            ("Vancouver", "BC", "V6B 1A1", "America/Vancouver", "+1 604 555 01"),
            ("Calgary", "AB", "T2P 1J9", "America/Edmonton", "+1 403 555 01"),
            ("Ottawa", "ON", "K1P 5G4", "America/Toronto", "+1 613 555 01"),
            ("Montréal", "QC", "H2Y 1C6", "America/Toronto", "+1 514 555 01"),
            ("Halifax", "NS", "B3J 1S9", "America/Halifax", "+1 902 555 01"),
        ),
        streets=(
            "King Street West",
            "Rue Sainte-Catherine",
            "Granville Street",
            "Bay Street",
            "Spring Garden Road",
            "Elgin Street",
        ),
        first_names=(
            "Liam",
            "Olivia",
            "Noah",
            "Emma",
            "William",
            "Charlotte",
            "Benjamin",
            "Sophie",
            "Étienne",
            "Chloé",
            "Lucas",
            "Amélie",
        ),
        last_names=(
            "Tremblay",
            "Gagnon",
            "Roy",
            "Côté",
            "Bouchard",
            "MacDonald",
            "Campbell",
            "Stewart",
            "Wong",
            "Singh",
            "Leblanc",
            "Fraser",
        ),
        company_words=("Maple Leaf", "Northern Lights", "Laurentian", "Pacific Rim", "Prairie"),
        company_kinds=("Accounting", "Architecture", "Clinic", "Outfitters", "Media"),
        company_forms=("Ltd.", "Inc.", "Ltée"),
        tax_id_format="#########RT0001",
    ),
    "GB": Region(
        country="GB",
        cities=_cities(
            ("London", "", "EC2A 4NE", "Europe/London", "+44 20 7946 0"),
            ("Manchester", "", "M1 1AE", "Europe/London", "+44 161 496 0"),
            ("Leeds", "", "LS1 4DY", "Europe/London", "+44 113 496 0"),
            ("Bristol", "", "BS1 4ST", "Europe/London", "+44 117 496 0"),
            ("Glasgow", "", "G1 1XQ", "Europe/London", "+44 141 496 0"),
            ("Cardiff", "", "CF10 1EP", "Europe/London", "+44 29 2018 0"),
        ),
        streets=(
            "High Street",
            "Station Road",
            "Church Lane",
            "Victoria Road",
            "Mill Lane",
            "Park Road",
        ),
        first_names=(
            "Oliver",
            "Amelia",
            "George",
            "Isla",
            "Harry",
            "Ava",
            "Jack",
            "Mia",
            "Charlie",
            "Grace",
            "Thomas",
            "Freya",
        ),
        last_names=(
            "Smith",
            "Jones",
            "Taylor",
            "Evans",
            "Wright",
            "Walker",
            "Roberts",
            "Hughes",
            "Wood",
            "Clarke",
            "Patel",
            "Murray",
        ),
        company_words=("Thames", "Pennine", "Kingsway", "Highland", "Severn", "Albion"),
        company_kinds=("Solicitors", "Surveyors", "Recruitment", "Builders", "Studios"),
        company_forms=("Ltd", "LLP", "Ltd"),
        tax_id_format="GB#########",
    ),
    "DE": Region(
        country="DE",
        cities=_cities(
            ("Berlin", "", "10115", "Europe/Berlin", "+49 30 5550"),
            ("München", "", "80331", "Europe/Berlin", "+49 89 5550"),
            ("Hamburg", "", "20095", "Europe/Berlin", "+49 40 5550"),
            ("Köln", "", "50667", "Europe/Berlin", "+49 221 5550"),
        ),
        streets=("Hauptstraße", "Bahnhofstraße", "Gartenweg", "Lindenallee", "Schillerstraße"),
        first_names=("Lukas", "Anna", "Jonas", "Lena", "Felix", "Marie", "Paul", "Sophie"),
        last_names=("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Wagner"),
        company_words=("Nordlicht", "Rheinblick", "Alpen", "Hansa", "Spree"),
        company_kinds=("Logistik", "Steuerberatung", "Zahnarztpraxis", "Immobilien", "Bau"),
        company_forms=("GmbH", "GmbH & Co. KG", "AG"),
        house_number_first=False,
        tax_id_format="DE#########",
    ),
    "FR": Region(
        country="FR",
        cities=_cities(
            ("Paris", "", "75002", "Europe/Paris", "+33 1 99 00"),
            ("Lyon", "", "69002", "Europe/Paris", "+33 4 99 00"),
            ("Lille", "", "59000", "Europe/Paris", "+33 3 99 00"),
            ("Bordeaux", "", "33000", "Europe/Paris", "+33 5 99 00"),
        ),
        streets=("rue de la République", "avenue Jean Jaurès", "rue Victor Hugo", "quai Voltaire"),
        first_names=("Léa", "Hugo", "Manon", "Louis", "Camille", "Gabriel", "Inès", "Jules"),
        last_names=("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand"),
        company_words=("Atlantique", "Lumière", "Provence", "Horizon", "Saint-Michel"),
        company_kinds=("Conseil", "Transports", "Architecture", "Cabinet Médical", "Boulangerie"),
        company_forms=("SARL", "SAS", "SA"),
        tax_id_format="FR###########",
    ),
    "NL": Region(
        country="NL",
        cities=_cities(
            ("Amsterdam", "", "1012 AB", "Europe/Amsterdam", "+31 20 799 00"),
            ("Rotterdam", "", "3011 AA", "Europe/Amsterdam", "+31 10 799 00"),
            ("Utrecht", "", "3511 AA", "Europe/Amsterdam", "+31 30 799 00"),
        ),
        streets=("Keizersgracht", "Coolsingel", "Oudegracht", "Damrak"),
        first_names=("Daan", "Emma", "Sem", "Julia", "Lucas", "Tess", "Finn", "Sanne"),
        last_names=("de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser"),
        company_words=("Oranje", "Polder", "Delta", "Tulp"),
        company_kinds=("Advies", "Installatietechniek", "Logistiek", "Makelaardij"),
        company_forms=("B.V.", "B.V.", "V.O.F."),
        house_number_first=False,
        tax_id_format="NL#########B01",
    ),
    "ES": Region(
        country="ES",
        cities=_cities(
            ("Madrid", "", "28013", "Europe/Madrid", "+34 91 555 0"),
            ("Barcelona", "", "08002", "Europe/Madrid", "+34 93 555 0"),
            ("Valencia", "", "46002", "Europe/Madrid", "+34 96 555 0"),
        ),
        streets=("Calle Mayor", "Gran Vía", "Paseo de Gracia", "Calle de Colón"),
        first_names=("Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Pablo", "Elena", "Álvaro"),
        last_names=("García", "Fernández", "González", "Rodríguez", "López", "Martínez"),
        company_words=("Ibérica", "Mediterráneo", "Sol", "Levante"),
        company_kinds=("Asesores", "Construcciones", "Clínica Dental", "Distribuciones"),
        company_forms=("S.L.", "S.L.", "S.A."),
        house_number_first=False,
        tax_id_format="ESB########",
    ),
    "IT": Region(
        country="IT",
        cities=_cities(
            ("Milano", "MI", "20121", "Europe/Rome", "+39 02 5550"),
            ("Roma", "RM", "00184", "Europe/Rome", "+39 06 5550"),
            ("Torino", "TO", "10121", "Europe/Rome", "+39 011 5550"),
        ),
        streets=("Via Roma", "Corso Vittorio Emanuele II", "Via Garibaldi", "Via Dante"),
        first_names=("Giulia", "Leonardo", "Sofia", "Francesco", "Aurora", "Alessandro"),
        last_names=("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo"),
        company_words=("Adriatica", "Tirreno", "Dolomiti", "Arno"),
        company_kinds=("Consulenze", "Trasporti", "Studio Legale", "Arredamenti"),
        company_forms=("S.r.l.", "S.p.A.", "S.r.l."),
        house_number_first=False,
        tax_id_format="IT###########",
    ),
    "MY": Region(
        country="MY",
        cities=_cities(
            ("Kuala Lumpur", "Wilayah Persekutuan", "50450", "Asia/Kuala_Lumpur", "+60 3 2555 0"),
            ("Petaling Jaya", "Selangor", "46100", "Asia/Kuala_Lumpur", "+60 3 7555 0"),
            ("George Town", "Pulau Pinang", "10200", "Asia/Kuala_Lumpur", "+60 4 255 0"),
            ("Johor Bahru", "Johor", "80000", "Asia/Kuala_Lumpur", "+60 7 255 0"),
            ("Kota Kinabalu", "Sabah", "88000", "Asia/Kuching", "+60 88 255 0"),
        ),
        streets=(
            "Jalan Ampang",
            "Jalan Sultan Ismail",
            "Lebuh Chulia",
            "Jalan Tun Razak",
            "Jalan Gaya",
        ),
        first_names=(),
        last_names=(),
        people=_malaysian_people(),
        company_words=("Harimau", "Mutiara", "Seri", "Cahaya", "Bintang"),
        company_kinds=("Digital", "Logistik", "Trading", "Engineering", "Klinik"),
        company_forms=("Sdn. Bhd.", "Sdn. Bhd.", "Berhad"),
        tax_id_format="C##########",
    ),
}
EUROZONE = ("DE", "FR", "NL", "ES", "IT")
# The countries whose customers pay in each currency.
REGION_OF_CURRENCY = {
    "USD": ("US",),
    "EUR": EUROZONE,
    "GBP": ("GB",),
    "CAD": ("CA",),
    "MYR": ("MY",),
}
# Amounts are drawn in USD-like magnitudes and scaled to the currency.
SCALE = {
    "USD": Decimal("1"),
    "EUR": Decimal("0.9"),
    "GBP": Decimal("0.8"),
    "CAD": Decimal("1.35"),
    "MYR": Decimal("4.5"),
}


@dataclass(frozen=True)
class Segment:
    """A kind of end customer: which class, where, how it pays and what it spends."""

    key: str
    class_name: str
    weight: int
    currencies: tuple[str, ...]
    company_share: float
    prepaid_share: float
    fee: tuple[int, int]  # monthly fee range, in USD-like units
    credit_limit: tuple[int, int]


SEGMENTS: tuple[Segment, ...] = (
    Segment("retail_us", "Retail USD", 24, ("USD",), 0.25, 0.45, (20, 60), (100, 400)),
    Segment("business_eu", "Business EUR", 18, ("EUR",), 1.0, 0.0, (90, 450), (1000, 6000)),
    Segment("malaysia", "Malaysia", 10, ("MYR",), 0.4, 0.5, (15, 80), (100, 500)),
    Segment(
        "anywhere",
        "Prepaid Anywhere",
        14,
        ("USD", "EUR", "GBP", "CAD"),
        0.1,
        1.0,
        (5, 40),
        (0, 0),
    ),
    Segment("uk_sip", "UK SIP Trunking", 10, ("GBP",), 1.0, 0.0, (150, 900), (2000, 10000)),
    Segment(
        "northwind", "Northwind Business Voice", 12, ("CAD",), 0.6, 0.2, (40, 200), (300, 2000)
    ),
    Segment("bluefibre", "Blue Fibre Home Broadband", 12, ("GBP",), 0.1, 0.3, (25, 55), (100, 300)),
)


@dataclass(frozen=True)
class ResellerSpec:
    key: str
    name: str
    username: str
    currency: str
    country: str
    city: int
    company_name: str
    tax_id: str
    class_name: str
    class_data: dict[str, Any]


RESELLERS: tuple[ResellerSpec, ...] = (
    ResellerSpec(
        key="northwind",
        name=FIRST_CUSTOMER,
        username="northwind",
        currency="CAD",
        country="CA",
        city=0,
        company_name="Northwind Telecom Inc.",
        tax_id="812345678RT0001",
        class_name="Northwind Business Voice",
        class_data={
            "currency": "CAD",
            "business_model": "Hosted IP PBX",
            "description": "Northwind's hosted PBX plans for Canadian businesses",
            "taxation_method": "custom",
            "taxes": [{"name": "GST", "rate": "5"}, {"name": "PST", "rate": "7"}],
            "generate_statistics": True,
            "send_statistics": "full",
            "allow_out_of_turn_invoices": True,
            "grace_period_days": 15,
            "notifications": ["invoice_issued", "invoice_overdue", "suspended"],
        },
    ),
    ResellerSpec(
        key="bluefibre",
        name="Blue Fibre Networks",
        username="bluefibre",
        currency="GBP",
        country="GB",
        city=1,
        company_name="Blue Fibre Networks Ltd",
        tax_id="GB287654321",
        class_name="Blue Fibre Home Broadband",
        class_data={
            "currency": "GBP",
            "business_model": "Internet access",
            "description": "Blue Fibre's residential broadband, VAT included in the price",
            "taxation_method": "fixed_vat",
            "vat_rate": "20",
            "vat_inclusive": True,
            "suspend_on_insufficient_funds": True,
            "notifications": ["invoice_issued", "low_funds", "suspended", "service_restored"],
        },
    ),
)

BUSINESS_MODELS = (
    ("SIP trunking", "SIP trunks and DID numbers for customers' own PBXs"),
    ("Residential VoIP", "Home phone service over broadband"),
)
CURRENCIES = ("CAD", "MYR")
CUSTOM_FIELDS = (
    ("tax_id", "VAT / tax ID", "text"),
    ("contract_date", "Contract date", "date"),
)

ADMIN_CLASSES: tuple[dict[str, Any], ...] = (
    {
        "name": "Retail USD",
        "currency": "USD",
        "business_model": "Residential VoIP",
        "description": "US residential and small-office VoIP",
        "taxation_method": "fixed_vat",
        "vat_rate": "20",
        "vat_inclusive": False,
        "generate_statistics": True,
        "send_statistics": "summary",
        "generate_regular_invoices": True,
        "auto_charge_invoices": True,
        "suspend_after_days": 10,
        "notifications": ["invoice_issued", "payment_due_soon", "low_funds"],
    },
    {
        "name": "Business EUR",
        "currency": "EUR",
        "business_model": "Cloud PBX",
        "description": "Cloud PBX for European companies; invoices approved by finance",
        "taxation_method": "custom",
        "taxes": [
            {"name": "VAT", "rate": "19"},
            {"name": "Telecom levy", "rate": "1.5"},
        ],
        "generate_statistics": True,
        "send_statistics": "full",
        "period_close": "approval",
        "approval_max_days": 5,
        "invoice_rounding": "custom",
        "invoice_rounding_pattern": "XXXXX.X5000",
        "invoice_template": "detailed",
        "grace_period_days": 30,
        "allow_out_of_turn_invoices": True,
        "fraud_daily_limit": "2500",
        "fraud_action": "notify",
        "mandatory_custom_fields": ["tax_id"],
        "notifications": ["invoice_issued", "invoice_overdue", "suspension_warning"],
    },
    {
        "name": "Malaysia",
        "currency": "MYR",
        "business_model": "Internet access",
        "description": "Fibre broadband in Malaysia, with GST",
        "taxation_method": "gst_my",
        "generate_statistics": True,
        "suspend_on_insufficient_funds": True,
        "termination_delay_days": 45,
        "notifications": ["invoice_issued", "suspended", "service_restored"],
    },
    {
        "name": "Prepaid Anywhere",
        "business_model": "Residential VoIP",
        "description": "Prepaid calling in any currency; no invoices",
        "generate_statistics": True,
        "generate_regular_invoices": False,
        "allow_out_of_turn_invoices": False,
        "suspend_on_insufficient_funds": True,
        "s2s_transfers_allowed": True,
        "notifications": ["low_funds"],
    },
    {
        "name": "UK SIP Trunking",
        "currency": "GBP",
        "business_model": "SIP trunking",
        "description": "SIP trunks for UK businesses on a signed contract",
        "taxation_method": "fixed_vat",
        "vat_rate": "20",
        "generate_statistics": True,
        "send_statistics": "summary",
        "fraud_daily_limit": "500",
        "fraud_action": "block",
        "mandatory_custom_fields": ["contract_date"],
        "notifications": ["invoice_issued", "invoice_overdue"],
    },
    {
        "name": "Wholesale Partners",
        "business_model": "Hosted IP PBX",
        "description": "Resellers' own accounts, billed monthly",
        "generate_statistics": True,
        "send_statistics": "full",
        "period_close": "approval",
        "approval_max_days": 10,
        "grace_period_days": 30,
        "notifications": ["invoice_issued", "invoice_overdue"],
    },
)
RESELLER_CLASS = "Wholesale Partners"
# The classes' measured-service defaults (CC-22): SIP trunks pay for concurrent calls above 10
# (the reference's example) and active calls and PBX extensions are kept as statistics.
MEASURED_DEFAULTS: dict[str, tuple[tuple[str, dict[str, Any]], ...]] = {
    "UK SIP Trunking": (
        (
            "concurrent_calls",
            {
                "charge_basis": "maximum",
                "price": "5.00",
                "free_items": "10",
                "rate_code": "SIPT",
                "service": "voice",
                "configured_limit": 12,
            },
        ),
        ("active_calls", {"apply_charge": False, "charge_basis": "average"}),
    ),
    "Retail USD": (("pbx_extensions", {"apply_charge": False, "charge_basis": "maximum"}),),
}


# --------------------------------------------------------------------------------------
# The load
# --------------------------------------------------------------------------------------


def load_demo(*, customers: int = 300, seed: int = 7, now: dt.datetime | None = None) -> str:
    """Load the demo data set and return a summary for the operator; when it was loaded
    before, return a message saying so and change nothing. ``now`` defaults to the current
    time (the command line is the interface that reads the clock)."""
    try:
        summary = build_demo(
            customers=customers, seed=seed, now=now if now is not None else timezone.now()
        )
    except DemoAlreadyLoaded as exc:
        return exc.message
    return str(summary)


def build_demo(*, customers: int, seed: int, now: dt.datetime) -> DemoSummary:
    """The demo data set as of ``now``; raises :class:`DemoAlreadyLoaded` when present."""

    if customers < 0:
        raise ValidationFailed("customers must be 0 or more", field="customers")
    if timezone.is_naive(now):
        raise ValidationFailed("now must be timezone-aware", field="now")
    loaded = Customer.objects.annotate(lname=Lower("name")).filter(lname=FIRST_CUSTOMER.lower())
    if loaded.exists():
        raise DemoAlreadyLoaded(
            f"Demo data is already loaded (customer {FIRST_CUSTOMER!r} exists); nothing "
            "was changed.",
            field="customers",
        )
    with transaction.atomic():
        rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
        return _Loader(rng=rng, now=now.replace(microsecond=0)).run(customers)


class _Loader:
    def __init__(self, *, rng: random.Random, now: dt.datetime) -> None:
        self.rng = rng
        self.now = now
        self.start = now - dt.timedelta(days=HISTORY_DAYS)
        self.admin: Any = None
        self.created_system_user = False
        self.class_ids: dict[str, int] = {}
        self.resellers: dict[str, Any] = {}  # reseller key -> its customer row
        self.reseller_users: dict[str, Any] = {}  # reseller key -> its user
        self.taken: set[str] = set()
        self.serial = 0
        self.business: BusinessLoader | None = None
        self.overridden = False

    # -- setup ---------------------------------------------------------------------------

    def run(self, customers: int) -> DemoSummary:
        self._actor()
        self._catalogues()
        self._admin_classes()
        self._resellers()
        self.business = BusinessLoader(
            rng=self.rng, now=self.now, start=self.start, admin=self.admin
        )
        self.business.catalogue(self.resellers, self.reseller_users)
        self.business.plans(self.resellers, self.reseller_users)
        self.taken = {n.lower() for n in Customer.objects.values_list("name", flat=True)}
        weights = [s.weight for s in SEGMENTS]
        for _ in range(customers):
            segment = self.rng.choices(SEGMENTS, weights=weights)[0]
            self._customer(segment)
        self.business.usage()
        self.business.history()
        made = self.business.made
        invoices = dict(Invoice.objects.values_list("status").annotate(n=Count("id")).order_by())
        return DemoSummary(
            business_models=BusinessModel.objects.count(),
            classes=CustomerClass.objects.count(),
            resellers=Customer.objects.filter(customer_type=CustomerType.RESELLER).count(),
            customers=Customer.objects.filter(customer_type=CustomerType.RETAIL).count(),
            transactions=Transaction.objects.count(),
            tariffs=Tariff.objects.count(),
            products=Product.objects.count(),
            accounts=Account.objects.count(),
            subscriptions=Subscription.objects.count(),
            xdrs=Xdr.objects.count(),
            engine_runs=EngineRun.objects.count(),
            invoices=tuple(
                (status, invoices.get(status, 0))
                for status in ("issued", "partly_paid", "paid", "overdue", "void")
            ),
            voided=made.voided,
            emails_cancelled=made.emails_cancelled,
            actor=self.admin.username,
            created_system_user=self.created_system_user,
            reseller_users=tuple(r.username for r in RESELLERS),
        )

    def _actor(self) -> None:
        admin = (
            User.objects.filter(is_superuser=True, is_active=True, reseller__isnull=True)
            .order_by("pk")
            .first()
        )
        if admin is None:
            admin = User.objects.filter(username=SYSTEM_USER).first()
            if admin is None:
                admin = User.objects.create_user(
                    username=SYSTEM_USER, password=None, is_staff=True, is_superuser=True
                )
                self.created_system_user = True
            elif not (admin.is_active and admin.reseller_id is None):
                raise ValidationFailed(
                    f"user {SYSTEM_USER!r} exists but is not an active administrator",
                    field="actor",
                )
        self.admin = admin

    def _catalogues(self) -> None:
        existing = {n.lower() for n in BusinessModel.objects.values_list("name", flat=True)}
        for name, description in BUSINESS_MODELS:
            if name.lower() not in existing:
                create_business_model(
                    actor=self.admin, now=self.start, name=name, description=description
                )
        for code in CURRENCIES:
            if not Currency.objects.filter(code=code).exists():
                add_currency(actor=self.admin, now=self.start, code=code)
        for name, label, ftype in CUSTOM_FIELDS:
            if not CustomField.objects.filter(name=name).exists():
                create_custom_field(
                    actor=self.admin, now=self.start, name=name, label=label, field_type=ftype
                )

    def _class_data(self, data: dict[str, Any]) -> dict[str, Any]:
        out = dict(data)
        if "business_model" in out:
            bm = BusinessModel.objects.filter(name__iexact=out["business_model"]).first()
            out["business_model"] = bm.pk if bm else None
        return out

    def _admin_classes(self) -> None:
        for data in ADMIN_CLASSES:
            cls = create_class(actor=self.admin, now=self.start, data=self._class_data(data))
            self.class_ids[cls.name] = cls.pk
            for metric, defaults in MEASURED_DEFAULTS.get(cls.name, ()):
                set_class_service(
                    actor=self.admin, now=self.start, class_id=cls.pk, metric=metric, data=defaults
                )

    def _resellers(self) -> None:
        for spec in RESELLERS:
            if User.objects.filter(username=spec.username).exists():
                raise ValidationFailed(
                    f"cannot load the demo: a user named {spec.username!r} already exists",
                    field="username",
                )
            region = REGIONS[spec.country]
            city = region.cities[spec.city]
            reseller = create_customer(
                actor=self.admin,
                now=self.start,
                data={
                    "name": spec.name,
                    "customer_type": "reseller",
                    "currency": spec.currency,
                    "balance_control": "postpaid",
                    "credit_limit": str(25000 * SCALE[spec.currency]),
                    "customer_class": self.class_ids[RESELLER_CLASS],
                    "company_name": spec.company_name,
                    "address_line1": self._street(region),
                    "city": city.name,
                    "state": city.state,
                    "zip_code": city.zip_code,
                    "country": spec.country,
                    "time_zone": city.time_zone,
                    "phone": self._phone(city),
                    "email": f"billing@{_slug(spec.name)}.example",
                    "custom_fields": {
                        "tax_id": spec.tax_id,
                        "contract_date": (self.start - dt.timedelta(days=400)).date().isoformat(),
                    },
                    "note": "Wholesale partner; their users manage their own customers.",
                },
            )
            user = User.objects.create_user(
                username=spec.username,
                password=None,  # unusable: an administrator sets it
                email=f"admin@{_slug(spec.name)}.example",
                reseller=reseller,
            )
            cls = create_class(
                actor=user,
                now=self.start + dt.timedelta(hours=2),
                data=self._class_data({"name": spec.class_name, **spec.class_data}),
            )
            self.class_ids[cls.name] = cls.pk
            self.resellers[spec.key] = reseller
            self.reseller_users[spec.key] = user
            monthly = Decimal(1500) * SCALE[spec.currency]
            self._history(reseller, actor=self.admin, monthly=monthly, first=self.start)

    # -- customers -----------------------------------------------------------------------

    def _customer(self, segment: Segment) -> None:
        rng = self.rng
        currency = rng.choice(segment.currencies)
        country = rng.choice(REGION_OF_CURRENCY[currency])
        region = REGIONS[country]
        city = rng.choice(region.cities)
        is_company = rng.random() < segment.company_share
        prepaid = rng.random() < segment.prepaid_share
        first, last, person = region.person(rng)
        scale = SCALE[currency]
        created = self.start + dt.timedelta(
            days=1 + rng.uniform(0, 25), seconds=rng.randrange(8 * 3600)
        )
        created = created.replace(microsecond=0)
        data: dict[str, Any] = {
            "currency": currency,
            "balance_control": "prepaid" if prepaid else "postpaid",
            "customer_class": self.class_ids[segment.class_name],
            "first_name": first,
            "last_name": last,
            "address_line1": self._street(region),
            "city": city.name,
            "state": city.state,
            "zip_code": city.zip_code,
            "country": country,
            "time_zone": city.time_zone,
            "phone": self._phone(city),
            "billing_period": rng.choices((4, 6, 3, 5), weights=(70, 12, 10, 8))[0],
        }
        custom: dict[str, str] = {}
        if is_company:
            company = region.company(rng)
            data["company_name"] = company
            data["name"] = self._unique(company, city.name)
            data["email"] = f"accounts@{_slug(company)}.example"
            data["address_line2"] = rng.choice(("", "Suite 200", "2nd floor", "Unit 4"))
            custom["tax_id"] = self._tax_id(region)
        else:
            data["name"] = self._unique(person, city.name)
            data["email"] = f"{_slug(first)}.{_slug(last)}{rng.randrange(10, 99)}@mail.example"
        if segment.key == "uk_sip" or (is_company and rng.random() < 0.5):
            signed = created - dt.timedelta(days=rng.randrange(1, 700))
            custom["contract_date"] = signed.date().isoformat()
        if custom:
            data["custom_fields"] = custom
        if prepaid:
            data["available_funds"] = str(_money(rng.randrange(10, 200) * scale, step=5))
        elif rng.random() < 0.9:  # the rest have no limit (CU-07)
            low, high = segment.credit_limit
            data["credit_limit"] = str(_money(rng.randint(low, high) * scale, step=50))
        if rng.random() < 0.05:
            data["blocked"] = True
            data["note"] = rng.choice(
                (
                    "Blocked by finance: invoices overdue.",
                    "Blocked on the customer's request while travelling.",
                    "Blocked: suspected fraudulent calls, under review.",
                )
            )
        owner = segment.key if segment.key in self.resellers else None
        actor = self.reseller_users[owner] if owner else self.admin
        customer = create_customer(actor=actor, now=created, data=data)
        fee = Decimal(rng.randint(*segment.fee)) * scale
        assert self.business is not None
        self.business.accounts_of(customer, actor)
        if segment.key == "business_eu" and not self.overridden:
            self.business.override(customer)
            self.overridden = True
        self._history(customer, actor=actor, monthly=fee, first=created)

    def _history(
        self, customer: Any, *, actor: Actor, monthly: Decimal, first: dt.datetime
    ) -> None:
        """1-6 balance adjustments after ``first``, in time order, that make sense for the
        customer's balance control and current balance."""

        rng = self.rng
        count = rng.randint(1, 6)
        span = (self.now - dt.timedelta(hours=1) - first).total_seconds()
        times = sorted(
            (first + dt.timedelta(seconds=rng.uniform(60, span))).replace(microsecond=0)
            for _ in range(count)
        )
        balance = customer.balance  # what the customer owes; prepaid funds = -balance
        limit = customer.credit_limit
        for at in times:
            action, amount, visible, internal = self._event(
                prepaid=customer.is_prepaid, balance=balance, limit=limit, fee=monthly, at=at
            )
            result = record_transaction(
                actor=actor,
                now=at,
                customer_id=customer.pk,
                action=action,
                amount=str(amount),
                visible_comment=visible,
                internal_comment=internal,
            )
            balance = result.balance

    def _event(
        self,
        *,
        prepaid: bool,
        balance: Decimal,
        limit: Decimal | None,
        fee: Decimal,
        at: dt.datetime,
    ) -> tuple[str, Decimal, str, str]:
        rng = self.rng
        month = at.strftime("%B %Y")
        ref = f"{rng.randrange(10**7, 10**8)}"
        if prepaid:
            funds = -balance
            roll = rng.random()
            if funds < fee or roll < 0.3:
                amount = _money(fee * rng.choice((1, 2, 3)), step=5)
                if rng.random() < 0.7:
                    return ("E-commerce payment", amount, "Online top-up", f"Auth {ref}")
                return ("Manual payment", amount, "Top-up at a partner shop", f"Voucher {ref}")
            if roll < 0.85:
                usage = _money(fee * Decimal(rng.uniform(0.2, 1.0)))
                return ("Manual charge", min(usage, funds), f"Calls and usage {month}", "")
            if roll < 0.95:
                return ("Promotional credit", _money(fee / 2, step=1), "Loyalty bonus", "")
            return (
                "Refund",
                _money(min(funds, fee) / 2),
                "Refund of unused credit",
                f"Requested by the customer, ticket {ref}",
            )
        roll = rng.random()
        if balance > 0 and roll < 0.45:
            amount = balance if rng.random() < 0.7 else _money(balance / 2)
            if rng.random() < 0.5:
                return ("E-commerce payment", amount, "Card payment, thank you", f"Auth {ref}")
            return ("Manual payment", amount, "Payment received, thank you", f"Bank ref {ref}")
        if balance < 0 and roll < 0.6:
            return (
                "Refund",
                -balance,
                "Refund of overpayment",
                f"Returned to the customer's bank account, ref {ref}",
            )
        if balance > fee and roll > 0.9:
            return (
                "Manual credit",
                _money(fee * Decimal(rng.uniform(0.1, 0.5))),
                f"Service credit: outage on {at.date().isoformat()}",
                "Approved by the support team lead",
            )
        charge = _money(fee * Decimal(rng.uniform(0.9, 1.3)))
        if limit is not None and balance + charge > limit:
            if limit - balance < CENTS:  # at the credit limit: the customer pays first
                return ("Manual payment", balance, "Payment received, thank you", f"Bank ref {ref}")
            charge = _money(limit - balance)
        label = rng.choice(
            (
                f"Monthly service fee {month}",
                f"Monthly service fee {month}",
                f"Call charges {month}",
                "Additional DID numbers",
                "Installation fee",
            )
        )
        return ("Manual charge", charge, label, "")

    # -- helpers -------------------------------------------------------------------------

    def _unique(self, base: str, city: str) -> str:
        """A customer name (ID, CU-01) not yet taken: the person or company, then with the
        city, then numbered. Draws no random numbers, so the data set stays the same."""
        candidates = [base, f"{base} ({city})"]
        candidates += [f"{base} ({city} {n})" for n in range(2, 1000)]
        for name in candidates:
            if name.lower() not in self.taken and len(name) <= 100:
                self.taken.add(name.lower())
                return name
        self.serial += 1
        name = f"{base[:80]} #{self.serial}"
        self.taken.add(name.lower())
        return name

    def _street(self, region: Region) -> str:
        number = self.rng.randrange(1, 400)
        street = self.rng.choice(region.streets)
        return f"{number} {street}" if region.house_number_first else f"{street} {number}"

    def _phone(self, city: City) -> str:
        digits = 2 if city.phone_prefix.endswith(" 01") else 3
        return f"{city.phone_prefix}{self.rng.randrange(10**digits):0{digits}d}"

    def _tax_id(self, region: Region) -> str:
        return "".join(str(self.rng.randrange(10)) if c == "#" else c for c in region.tax_id_format)


def _money(amount: Decimal, *, step: int | None = None) -> Decimal:
    """``amount`` rounded half-up to cents, or to a multiple of ``step`` (at least one
    step)."""
    if step is None:
        return max(amount.quantize(CENTS, rounding=ROUND_HALF_UP), CENTS)
    steps = (amount / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return max(steps, Decimal(1)) * step


def _slug(text: str) -> str:
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in ascii_text.lower()).split()
    return "-".join(words) or "customer"
