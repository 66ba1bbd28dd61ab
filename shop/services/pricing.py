"""Solidarity prices and the legal caps on them."""

import re

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext

from shop import categories
from shop.extensions import db
from shop.i18n import isolate, money
from shop.models import Category, Grade, GridPrice
from shop.services import audit
from shop.services.errors import DomainError
from shop.services.tx import atomic

# Décret n° 2022-1413 du 7 novembre 2022: maximum resale prices, in cents, of equipment given by
# the State or a local authority and resold by a general-interest association to people in
# precarity. Each category's cap (or NO_CAP) is in the category registry, shop/categories.py.
LEGAL_CAP_SOURCE = categories.LEGAL_CAP_SOURCE
LEGAL_CAPS_CENTS: dict[Category, int] = categories.legal_caps()

MAX_PRICE_CENTS = 100_000


def legal_cap(category: Category) -> int | None:
    """The legal maximum price in cents for a device of a public donor, or None."""
    return LEGAL_CAPS_CENTS.get(Category(category))


def check_price(category: Category, price_cents: int, *, public_donor: bool) -> None:
    """Refuse a negative or absurd price, and any price above the legal cap for public donations."""
    if price_cents < 0 or price_cents > MAX_PRICE_CENTS:
        raise DomainError(lazy_ngettext("The price must be between 0 and %(num)d euro.", "The price must be between 0 and %(num)d euros.", MAX_PRICE_CENTS // 100))
    cap = legal_cap(category)
    if public_donor and cap is not None and price_cents > cap:
        raise DomainError(
            _l(
                "A device given by a public body cannot cost more than %(cap)s "
                "in this category (legal cap).",
                cap=isolate(money(cap)),
            ),
            cap_cents=cap,
        )


# --- Euros as people type them --------------------------------------------------------------------

_EUROS = re.compile(r"^(\d{1,7})(?:[.,](\d{1,2}))?$")


def parse_euros(text: str) -> int | None:
    """Cents from "12", "12,5", "12.50" or "€12.50"; None when empty. Refuses negatives and words."""
    cleaned = (text or "").strip().replace("€", "").replace("\u00a0", "").replace(" ", "").strip()
    if not cleaned:
        return None
    if cleaned.startswith("-"):
        raise DomainError(_l("A price cannot be negative."))
    match = _EUROS.match(cleaned)
    if match is None:
        raise DomainError(_l("“%(value)s” is not a price in euros, such as 12.50 or 12,50.", value=text.strip()[:20]))
    euros, cents = match.groups()
    return int(euros) * 100 + int((cents or "0").ljust(2, "0"))


# --- The default price grid ----------------------------------------------------------------------

def grid() -> dict[tuple[Category, Grade], int]:
    """Every price of the grid, by (category, grade)."""
    return {(row.category, row.grade): row.price_cents for row in db.session.scalars(sa.select(GridPrice))}


def check_grid_price(category: Category, price_cents: int) -> None:
    """A grid price is the default for public donors' devices too, so it may never exceed the cap."""
    check_price(category, price_cents, public_donor=True)


def resolve_price(category: Category, grade: Grade, price_cents: int | None, *, public_donor: bool,
                  prices: dict | None = None) -> int:
    """The price a new device gets: the one given, else the grid's; checked against the caps."""
    if price_cents is None:
        prices = grid() if prices is None else prices
        price_cents = prices.get((Category(category), Grade(grade)))
        if price_cents is None:
            raise DomainError(_l("The price grid has no price for this kind of device and grade: "
                                 "please give a price."), field="price")
    check_price(category, price_cents, public_donor=public_donor)
    return price_cents


@atomic
def set_grid(prices: dict[tuple[Category, Grade], int | None], *, actor) -> int:
    """Replace the grid by `prices` (None removes a price). All saved, or none: every refused
    price is reported at once, keyed by (category, grade). Returns how many prices changed."""
    problems = {}
    for (category, grade), cents in prices.items():
        if cents is None:
            continue
        try:
            check_grid_price(category, cents)
        except DomainError as error:
            problems[(category, grade)] = error.message
    if problems:
        raise DomainError(_l("Some prices cannot be saved: see the highlighted cells."), problems=problems)
    current = {(row.category, row.grade): row for row in db.session.scalars(sa.select(GridPrice))}
    changed = 0
    for (category, grade), cents in prices.items():
        row = current.get((category, grade))
        if cents is None:
            if row is not None:
                db.session.delete(row)
                changed += 1
        elif row is None:
            db.session.add(GridPrice(category=category, grade=grade, price_cents=cents))
            changed += 1
        elif row.price_cents != cents:
            row.price_cents = cents
            changed += 1
    db.session.flush()
    if changed:
        audit.record(actor, "price_grid.update", None, changed=changed)
    return changed
