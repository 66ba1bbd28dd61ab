"""Every device category described once: what reads a category's facts reads them here.

For each `Category` (the enum in `shop.models.stock`, whose values the database CHECK holds), one
`CategoryFacts` says: the code category it falls under, its legal price cap (or `NO_CAP`), its
icon, its plain-words hints, and its impact factors (a value, or `NO_SOURCED_FACTOR`, for every
factor key of `services.impact_factors`). `tests/test_categories.py` fails when a category lacks
an entry or an entry lacks a fact.

A new category: a member of `Category`, a migration for its CHECK constraint, an entry here, an
icon in `shop/static/img/`, its label in the catalogs.
"""

from dataclasses import dataclass, field
from typing import Callable

from flask_babel import lazy_gettext as _l

from shop.models.stock import Category
from shop.models.types import LabelledEnum


class CodeCategory(LabelledEnum):
    """What an eligibility code allows; one code category covers one or more device categories."""

    COMPUTER = "computer", _l("Computer (laptop or desktop)")
    SMARTPHONE = "smartphone", _l("Smartphone")
    TABLET = "tablet", _l("Tablet")
    SCREEN = "screen", _l("Screen")
    PRINTER = "printer", _l("Printer")
    ACCESSORY = "accessory", _l("Accessory")

    @classmethod
    def of(cls, category: Category) -> "CodeCategory":
        return CATEGORIES[Category(category)].code_category

    @property
    def device_categories(self) -> list[Category]:
        """The kinds of device this code category covers, in catalog order."""
        return [c for c in Category if CATEGORIES[c].code_category == self]


class _Explicit:
    """A marker that says "deliberately none", so that a missing fact is never a silent default."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


NO_CAP = _Explicit("NO_CAP")  # the decree sets no maximum price for this category
NO_SOURCED_FACTOR = _Explicit("NO_SOURCED_FACTOR")  # not counted in that figure, rather than guessed

LEGAL_CAP_SOURCE = "Décret n° 2022-1413 du 7 novembre 2022"


# --- Plain words: what a device is good for, from its specs (an offer of `services.catalog`) ---

def _computer_hints(offer) -> list:
    ram = offer.ram_gb or 0
    if ram >= 16:
        hints = [_l("Good for photo editing, many open tabs and demanding programs.")]
    else:
        hints = []
    if ram >= 8:
        hints.append(_l("Good for video calls, school work and office programs."))
    elif ram >= 4:
        hints.append(_l("Good for the web, e-mail, online forms and video calls."))
    else:
        hints.append(_l("Good for the web, e-mail and online forms."))
    return hints


def _laptop_hints(offer) -> list:
    hints = _computer_hints(offer)
    if offer.screen_tenths and offer.screen_tenths <= 133:
        hints.append(_l("Small and light: easy to carry."))
    return hints


def _smartphone_hints(offer) -> list:
    hints = [_l("Good for calls, messages, video calls and online services.")]
    if (offer.storage_gb or 0) >= 64:
        hints.append(_l("Room for many photos and apps."))
    return hints


def _screen_hints(offer) -> list:
    return [_l("Plugs into a computer to see more at once.")]


def _printer_hints(offer) -> list:
    return [_l("Prints your documents at home.")]


def _multifunction_printer_hints(offer) -> list:
    return _printer_hints(offer) + [_l("Also scans and copies papers for your applications.")]


def _no_hints(offer) -> list:
    return []


@dataclass(frozen=True)
class CategoryFacts:
    code_category: CodeCategory
    legal_cap_cents: int | _Explicit  # décret n° 2022-1413, in cents, or NO_CAP
    icon: str  # under shop/static/
    hints: Callable[[object], list]  # plain words from an offer's specs
    # the default warranty in months (admins may change it: services/warranty.py, `warranty_periods`)
    warranty_months: int
    # factor key (services.impact_factors) → value per reused device, or NO_SOURCED_FACTOR
    impact: dict = field(default_factory=dict)


CATEGORIES: dict[Category, CategoryFacts] = {
    Category.LAPTOP: CategoryFacts(
        code_category=CodeCategory.COMPUTER, legal_cap_cents=18000, warranty_months=6, icon="img/laptop.svg", hints=_laptop_hints,
        impact={"co2e_kg": 27.0, "raw_materials_kg": 127.0,
                "e_waste_kg": 1.58,  # Lenovo ThinkPad T480
                "new_price_cents": 50000},
    ),
    Category.DESKTOP: CategoryFacts(
        code_category=CodeCategory.COMPUTER, legal_cap_cents=15000, warranty_months=6, icon="img/desktop.svg", hints=_computer_hints,
        impact={"co2e_kg": NO_SOURCED_FACTOR, "raw_materials_kg": NO_SOURCED_FACTOR,
                "e_waste_kg": 5.2,  # Dell OptiPlex 7060 small form factor
                "new_price_cents": 60000},
    ),
    Category.SMARTPHONE: CategoryFacts(
        code_category=CodeCategory.SMARTPHONE, legal_cap_cents=10000, warranty_months=6, icon="img/smartphone.svg",
        hints=_smartphone_hints,
        impact={"co2e_kg": 24.6, "raw_materials_kg": 76.9,
                "e_waste_kg": 0.19,  # Samsung Galaxy A52
                "new_price_cents": 25000},
    ),
    Category.TABLET: CategoryFacts(
        code_category=CodeCategory.TABLET, legal_cap_cents=10000, warranty_months=6, icon="img/tablet.svg", hints=_computer_hints,
        impact={"co2e_kg": NO_SOURCED_FACTOR, "raw_materials_kg": NO_SOURCED_FACTOR,
                "e_waste_kg": 0.47,  # Apple iPad (6th generation)
                "new_price_cents": 30000},
    ),
    Category.SCREEN: CategoryFacts(
        code_category=CodeCategory.SCREEN, legal_cap_cents=3000, warranty_months=3, icon="img/screen.svg", hints=_screen_hints,
        impact={"co2e_kg": NO_SOURCED_FACTOR, "raw_materials_kg": NO_SOURCED_FACTOR,
                "e_waste_kg": 3.3,  # Dell P2219H with stand
                "new_price_cents": 15000},
    ),
    Category.PRINTER: CategoryFacts(
        code_category=CodeCategory.PRINTER, legal_cap_cents=3000, warranty_months=3, icon="img/printer.svg", hints=_printer_hints,
        impact={"co2e_kg": NO_SOURCED_FACTOR, "raw_materials_kg": NO_SOURCED_FACTOR,
                "e_waste_kg": NO_SOURCED_FACTOR, "new_price_cents": 15000},
    ),
    Category.MULTIFUNCTION_PRINTER: CategoryFacts(
        code_category=CodeCategory.PRINTER, legal_cap_cents=17000, warranty_months=3, icon="img/multifunction_printer.svg",
        hints=_multifunction_printer_hints,
        impact={"co2e_kg": NO_SOURCED_FACTOR, "raw_materials_kg": NO_SOURCED_FACTOR,
                "e_waste_kg": NO_SOURCED_FACTOR, "new_price_cents": 20000},
    ),
    Category.ACCESSORY: CategoryFacts(
        code_category=CodeCategory.ACCESSORY, legal_cap_cents=NO_CAP, warranty_months=1, icon="img/accessory.svg", hints=_no_hints,
        impact={"co2e_kg": NO_SOURCED_FACTOR, "raw_materials_kg": NO_SOURCED_FACTOR,
                "e_waste_kg": NO_SOURCED_FACTOR, "new_price_cents": 3000},
    ),
}


def facts(category) -> CategoryFacts:
    return CATEGORIES[Category(category)]


def legal_caps() -> dict[Category, int]:
    """The categories the decree caps, with their cap in cents, in catalog order."""
    return {c: f.legal_cap_cents for c, f in CATEGORIES.items() if f.legal_cap_cents is not NO_CAP}


def per_device(factor_key: str) -> dict[Category, float]:
    """One impact factor's sourced value per category (categories without one are left out)."""
    return {c: f.impact[factor_key] for c, f in CATEGORIES.items() if f.impact[factor_key] is not NO_SOURCED_FACTOR}


def warranty_months() -> dict[Category, int]:
    """The default warranty of every category, in months."""
    return {c: f.warranty_months for c, f in CATEGORIES.items()}


def icon(category) -> str:
    return facts(category).icon
