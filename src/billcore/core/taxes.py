"""Tax calculators (feature CC-10; ``reference/portabilling.md``, section "Taxes").

Everything is :class:`~decimal.Decimal`, never a float, and every result is exact: for every
calculator ``net + total_tax + rounding_adjustment == gross`` holds to the last digit.

Inputs. ``amount`` is a money value (see :mod:`billcore.core.money`) that already fits the
currency's ``decimals`` (e.g. ``10.02`` or ``10.02000`` for 2 decimals, not ``10.025``): this
module rounds taxes only, never the amount, so round a 5-place subtotal to the currency first
(the taxable base; the invoice rounding pattern of CC-17 rounds the total after taxes, never
this base). Every returned amount has exactly
``decimals`` decimal places. Negative amounts (credits) round by magnitude, so
``tax(-x) == -tax(x)``.

Rounding of a tax (portabilling.md): **up**, away from zero by magnitude, to the currency's
decimals by default (1.204 -> 1.21, :func:`~billcore.core.rounding.round_up`); half-up when
the installation option asks for it (``half_up=True``,
:func:`~billcore.core.rounding.round_half_up`). The exact tax value is a fraction (inclusive
taxes do not terminate: 10.00 x 20/120 = 1.666...); it is rounded exactly, with no
intermediate rounding.

Exclusive and inclusive. Exclusive: ``amount`` is the net and the taxes are added on top.
Inclusive: ``amount`` is the gross (the price already contains the taxes); each tax is
``amount x rate / (100 + sum of rates)``, rounded as above, and **the net is derived**:
``net = amount - sum of rounded taxes``. So the taxes are what is rounded and the net absorbs
the rounding residue, and ``net + total_tax == amount`` exactly.

Custom taxation: several named taxes, each on the same net base (*not* compounded: no tax is
charged on another tax), each rounded separately.

GST (Malaysia): 2 decimals, tax half-up; the total is then rounded with the special Malaysian
0.05 rounding (:func:`~billcore.core.rounding.round_malaysian_005`) and the difference is
returned in ``rounding_adjustment``.

External engines (EZTax, SureTax) sit behind the :class:`TaxEngine` protocol; without a
configured endpoint they are refused with :class:`TaxEngineNotConfigured` (portabilling.md,
*choice*).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Final, Protocol, runtime_checkable

from billcore.core.money import MONEY_PLACES, AmountError, from_units, to_units
from billcore.core.rounding import round_down, round_half_up, round_malaysian_005, round_up

__all__ = [
    "GST_MALAYSIA_DECIMALS",
    "GST_MALAYSIA_RATE",
    "MAX_RATE",
    "MAX_RATE_PLACES",
    "TaxEngine",
    "TaxEngineNotConfigured",
    "TaxLine",
    "TaxResult",
    "TaxableLine",
    "custom_taxes",
    "fixed_vat",
    "gst_malaysia",
]

GST_MALAYSIA_RATE: Final = Decimal("6")
GST_MALAYSIA_DECIMALS: Final = 2
#: Rates are percentages in ``[0, MAX_RATE]`` with at most ``MAX_RATE_PLACES`` decimals.
MAX_RATE: Final = Decimal(1000)
MAX_RATE_PLACES: Final = 10


@dataclass(frozen=True, slots=True)
class TaxLine:
    """One tax on an invoice: ``amount`` is ``rate`` percent of ``base`` (the net), rounded.

    For an inclusive calculation ``base`` is the derived net, so recomputing the tax from it
    exclusively may differ by the rounding residue.
    """

    name: str
    rate: Decimal
    base: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class TaxResult:
    """The outcome of a tax calculation (CC-10).

    ``net + total_tax + rounding_adjustment == gross`` exactly; ``total_tax`` is the sum of
    ``taxes[i].amount``. ``rounding_adjustment`` is zero except for GST (Malaysia), where
    ``gross`` is the 0.05-rounded total. All amounts have exactly the currency's decimals.
    """

    net: Decimal
    taxes: list[TaxLine]
    total_tax: Decimal
    gross: Decimal
    rounding_adjustment: Decimal = field(default=Decimal(0))

    @property
    def gross_before_rounding(self) -> Decimal:
        """``net + total_tax``: the total before any special (0.05) rounding."""
        return self.net + self.total_tax


@dataclass(frozen=True, slots=True)
class TaxableLine:
    """One line handed to an external tax engine (:class:`TaxEngine`).

    ``amount`` is the line's net charge; ``service_code`` is the engine-specific
    transaction/service type the adapter maps the line to (empty: the adapter's default).
    """

    amount: Decimal
    description: str = ""
    service_code: str = ""


@runtime_checkable
class TaxEngine(Protocol):
    """An external tax engine such as EZTax or SureTax (CC-10; adapters live outside core).

    ``calculate`` returns the taxes for ``lines`` of one invoice in ``currency`` with
    ``decimals`` places for a customer in ``customer_country`` (ISO 3166-1 alpha-2); the
    result follows the same exactness rules as the built-in calculators.
    """

    def calculate(
        self,
        *,
        lines: list[TaxableLine],
        currency: str,
        decimals: int,
        customer_country: str,
    ) -> TaxResult: ...


class TaxEngineNotConfigured(Exception):
    """An external tax engine was chosen but the installation has no endpoint for it.

    ``str(error)`` names the engine and says what to do, e.g. ``"tax engine 'EZTax' is not
    configured: the installation has no EZTax endpoint, so it cannot be used as a taxation
    method; configure the endpoint or choose Fixed VAT, Custom taxation, GST or no taxation"``.
    """

    engine: str

    def __init__(self, engine: str) -> None:
        super().__init__(
            f"tax engine {engine!r} is not configured: the installation has no {engine} "
            "endpoint, so it cannot be used as a taxation method; configure the endpoint or "
            "choose Fixed VAT, Custom taxation, GST or no taxation"
        )
        self.engine = engine


# --------------------------------------------------------------------------------------------
# Validation


def _check_decimals(decimals: int) -> None:
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise TypeError(f"decimals must be an int, not {type(decimals).__name__}")
    if not 0 <= decimals <= MONEY_PLACES:
        raise ValueError(f"decimals must be between 0 and {MONEY_PLACES}, got {decimals}")


def _check_amount(amount: Decimal, *, decimals: int) -> Decimal:
    """Validate ``amount`` and return it with exactly ``decimals`` places."""
    units = to_units(amount)  # Decimal, finite, at most 5 places, |amount| < 10**13
    if units % 10 ** (MONEY_PLACES - decimals):
        raise AmountError(
            field="amount",
            reason=(
                f"{amount} has more than {decimals} decimal places; round it to the "
                "currency first (taxes never round the amount itself)"
            ),
        )
    return round_down(from_units(units), places=decimals)  # exact: only drops zero digits


def _check_rate(rate: Decimal, *, name: str) -> Decimal:
    if not isinstance(rate, Decimal):
        raise TypeError(f"rate of {name!r} must be a Decimal, not {type(rate).__name__}")
    if not rate.is_finite() or not 0 <= rate <= MAX_RATE:
        raise ValueError(f"rate of {name!r} must be a percentage from 0 to {MAX_RATE}: {rate}")
    if Fraction(rate) * 10**MAX_RATE_PLACES != int(rate.scaleb(MAX_RATE_PLACES)):
        raise ValueError(f"rate of {name!r} has more than {MAX_RATE_PLACES} decimal places: {rate}")
    return rate


# --------------------------------------------------------------------------------------------
# Exact rounding of fractions


def _round_fraction(exact: Fraction, *, places: int, half_up: bool) -> Decimal:
    """Round the exact value ``exact`` to ``places`` decimals.

    The quotient is written out to ``places + 1`` decimals plus a sticky ``1`` at
    ``places + 2`` when anything non-zero remains: a finite Decimal that UP and HALF-UP
    rounding at ``places`` treat exactly like the true quotient. The rounding itself is
    :func:`~billcore.core.rounding.round_up` / :func:`~billcore.core.rounding.round_half_up`.
    """
    numerator, denominator = exact.numerator, exact.denominator  # denominator > 0
    digits, remainder = divmod(abs(numerator) * 10 ** (places + 1), denominator)
    scale = places + 1
    if remainder:
        digits, scale = digits * 10 + 1, scale + 1
    with localcontext() as ctx:
        ctx.prec = max(28, len(str(digits)) + 2)
        value = Decimal(-digits if numerator < 0 else digits).scaleb(-scale)
    return round_half_up(value, places=places) if half_up else round_up(value, places=places)


def _cap_to_amount(
    rounded: list[Decimal], exact: list[Fraction], *, amount: Decimal, places: int
) -> None:
    """Inclusive guard: lower taxes rounded away from zero by one unit each, from the last line
    backwards, while together they exceed ``amount`` by magnitude (in place).

    Only possible for amounts of a few units with several taxes (0.01 with two taxes rounded up
    would give net -0.01). A lowered tax is its exact value rounded toward zero, so it stays
    within one unit of it, and since the exact taxes add up to less than ``amount`` the loop
    always ends with ``|sum| <= |amount|``: the net never changes sign.
    """
    unit = Decimal(1).scaleb(-places)
    for index in reversed(range(len(rounded))):
        if abs(sum(rounded, Decimal(0))) <= abs(amount):
            return
        if abs(Fraction(rounded[index])) > abs(exact[index]):
            lowered = abs(rounded[index]) - unit
            rounded[index] = round_down(-lowered if rounded[index] < 0 else lowered, places=places)


# --------------------------------------------------------------------------------------------
# Calculators


def _calculate(
    *,
    amount: Decimal,
    taxes: list[tuple[str, Decimal]],
    inclusive: bool,
    decimals: int,
    half_up: bool,
) -> TaxResult:
    _check_decimals(decimals)
    checked = _check_amount(amount, decimals=decimals)
    names: set[str] = set()
    rates: list[tuple[str, Decimal]] = []
    for name, rate in taxes:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"tax name must be a non-empty string, got {name!r}")
        if name in names:
            raise ValueError(f"tax name {name!r} appears more than once")
        names.add(name)
        rates.append((name, _check_rate(rate, name=name)))
    # Exact tax_i = amount * rate_i / divisor, divisor = 100 (exclusive) or 100 + sum (inclusive).
    divisor = Fraction(100)
    if inclusive:
        divisor += sum((Fraction(rate) for _, rate in rates), Fraction(0))
    exact = [Fraction(checked) * Fraction(rate) / divisor for _, rate in rates]
    rounded = [_round_fraction(value, places=decimals, half_up=half_up) for value in exact]
    if inclusive:
        _cap_to_amount(rounded, exact, amount=checked, places=decimals)
    amounts = [(name, rate, tax) for (name, rate), tax in zip(rates, rounded, strict=True)]
    total_tax = round_down(sum((tax for _, _, tax in amounts), Decimal(0)), places=decimals)
    net = round_down(checked - total_tax, places=decimals) if inclusive else checked
    gross = checked if inclusive else round_down(checked + total_tax, places=decimals)
    to_units(gross)  # AmountError when the gross leaves the money range (|x| < 10**13)
    return TaxResult(
        net=net,
        taxes=[TaxLine(name=name, rate=rate, base=net, amount=tax) for name, rate, tax in amounts],
        total_tax=total_tax,
        gross=gross,
        rounding_adjustment=round_down(Decimal(0), places=decimals),
    )


def fixed_vat(
    *, amount: Decimal, rate: Decimal, inclusive: bool, decimals: int, half_up: bool = False
) -> TaxResult:
    """Fixed VAT (CC-10): one rate in percent, on top of ``amount`` or backed out of it.

    * Exclusive: ``tax = round(amount x rate / 100)``, ``gross = amount + tax``.
      20 % on 10.02 -> 2.004 -> tax 2.01 (up) or 2.00 (``half_up``).
    * Inclusive: ``amount`` is the gross; ``tax = round(amount x rate / (100 + rate))`` and
      ``net = amount - tax`` (the tax is rounded, the net is derived, so
      ``net + tax == amount``). 21 % in 121.00 -> tax 21.00, net 100.00; 20 % in 10.00 ->
      1.666... -> tax 1.67 (up), net 8.33.

    ``round`` is UP by magnitude at ``decimals`` places, HALF-UP when ``half_up`` (see the
    module docstring). The single :class:`TaxLine` is named ``"VAT"``.
    """
    return _calculate(
        amount=amount,
        taxes=[("VAT", rate)],
        inclusive=inclusive,
        decimals=decimals,
        half_up=half_up,
    )


def custom_taxes(
    *,
    amount: Decimal,
    taxes: list[tuple[str, Decimal]],
    inclusive: bool,
    decimals: int,
    half_up: bool = False,
) -> TaxResult:
    """Custom taxation (CC-10): several named taxes ``(name, rate in percent)``.

    Every tax applies to the same net base (not compounded) and is rounded on its own, in
    the given order; names must be unique and non-empty, rates non-negative.

    * Exclusive: ``tax_i = round(amount x rate_i / 100)``; ``gross = amount + sum(tax_i)``.
      State 6.25 % + City 1.5 % on 19.99 -> 1.249375 -> 1.25 and 0.29985 -> 0.30,
      gross 21.54.
    * Inclusive: ``amount`` is the gross; the net base is backed out with the sum of the
      rates, ``tax_i = round(amount x rate_i / (100 + sum of rates))``, and the **net takes the
      rounding residue**: ``net = amount - sum(tax_i)``. Each tax stays within one unit of its
      exact value and ``net + sum(tax_i) == amount`` exactly. Guard for tiny amounts: when the
      rounded taxes together would exceed the amount (0.01 with two taxes rounded up), taxes
      rounded away from zero are lowered by one unit each, from the last line backwards,
      until they do not, so the net never changes sign.

    An empty ``taxes`` list gives no tax lines and ``gross == net == amount``.
    """
    return _calculate(
        amount=amount,
        taxes=list(taxes),
        inclusive=inclusive,
        decimals=decimals,
        half_up=half_up,
    )


def gst_malaysia(
    *, amount: Decimal, rate: Decimal = GST_MALAYSIA_RATE, inclusive: bool = False
) -> TaxResult:
    """GST Malaysia (CC-10): fixed VAT at 2 decimals, tax rounded half-up, 0.05-rounded total.

    The tax and net follow :func:`fixed_vat` with ``decimals=2, half_up=True`` (one line named
    ``"GST"``). The total ``net + tax`` is then rounded with the special Malaysian rounding
    (:func:`~billcore.core.rounding.round_malaysian_005`; by magnitude for credits) into
    ``gross``, and ``rounding_adjustment = gross - (net + tax)``, so
    ``net + tax + rounding_adjustment == gross`` exactly. 6 % on 10.01 -> tax 0.6006 -> 0.60,
    total 10.61 -> gross 10.60, adjustment -0.01. Inclusive: the price ``amount`` is the
    total that gets rounded.
    """
    base = _calculate(
        amount=amount,
        taxes=[("GST", rate)],
        inclusive=inclusive,
        decimals=GST_MALAYSIA_DECIMALS,
        half_up=True,
    )
    total = base.net + base.total_tax
    gross = round_malaysian_005(total)
    adjustment = round_down(gross - total, places=GST_MALAYSIA_DECIMALS)
    return TaxResult(
        net=base.net,
        taxes=base.taxes,
        total_tax=base.total_tax,
        gross=gross,
        rounding_adjustment=adjustment,
    )
