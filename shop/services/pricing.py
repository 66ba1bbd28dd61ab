"""Solidarity prices and the legal caps on them."""

from decimal import Decimal

from flask_babel import format_currency
from flask_babel import lazy_gettext as _l

from shop.models import Category
from shop.services.errors import DomainError

# Décret n° 2022-1413 du 7 novembre 2022: maximum resale prices, in cents, of equipment given by
# the State or a local authority and resold by a general-interest association to people in
# precarity. Categories absent from the decree (accessories) have no cap.
LEGAL_CAP_SOURCE = "Décret n° 2022-1413 du 7 novembre 2022"
LEGAL_CAPS_CENTS: dict[Category, int] = {
    Category.LAPTOP: 18000,
    Category.DESKTOP: 15000,
    Category.TABLET: 10000,
    Category.SMARTPHONE: 10000,
    Category.SCREEN: 3000,
    Category.PRINTER: 3000,
    Category.MULTIFUNCTION_PRINTER: 17000,
}

MAX_PRICE_CENTS = 100_000


def legal_cap(category: Category) -> int | None:
    """The legal maximum price in cents for a device of a public donor, or None."""
    return LEGAL_CAPS_CENTS.get(Category(category))


def check_price(category: Category, price_cents: int, *, public_donor: bool) -> None:
    """Refuse a negative or absurd price, and any price above the legal cap for public donations."""
    if price_cents < 0 or price_cents > MAX_PRICE_CENTS:
        raise DomainError(_l("The price must be between 0 and %(max)d euros.", max=MAX_PRICE_CENTS // 100))
    cap = legal_cap(category)
    if public_donor and cap is not None and price_cents > cap:
        raise DomainError(
            _l(
                "A device given by a public body cannot cost more than %(cap)s "
                "in this category (legal cap).",
                cap=format_currency(Decimal(cap) / 100, "EUR"),
            ),
            cap_cents=cap,
        )
