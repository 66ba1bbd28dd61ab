"""Impact factors: every figure the reports multiply by is a named constant with its source and year.

A category without a sourced factor is not counted in that figure (the reports say so), rather
than being given a guessed one.
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from shop.categories import per_device


@dataclass(frozen=True)
class Factor:
    """`per_device[category]` of `unit` for each reused device, from `source` (`year`).

    The values per category are in the category registry (shop/categories.py), under `key`.
    """

    key: str
    label: object  # lazily translated
    unit: str
    per_device: dict
    source: object  # a citation; lazily translated when it is our own wording
    year: int
    note: object = None


ADEME_2022 = ("ADEME, « Évaluation de l'impact environnemental d'un ensemble de produits reconditionnés », "
              "réemploi versus neuf")

CO2E_AVOIDED_KG = Factor(
    key="co2e_kg",
    label=_l("Greenhouse gases avoided"),
    unit="kg CO2e",
    per_device=per_device("co2e_kg"),
    source=ADEME_2022,
    year=2022,
    note=_l("Per reused device and year of use, compared with buying new."),
)

RAW_MATERIALS_AVOIDED_KG = Factor(
    key="raw_materials_kg",
    label=_l("Raw materials saved"),
    unit="kg",
    per_device=per_device("raw_materials_kg"),
    source=ADEME_2022,
    year=2022,
    note=_l("Per reused device and year of use, compared with buying new."),
)

# The weight of the device itself: a reused device is that much electronic waste not produced.
E_WASTE_AVOIDED_KG = Factor(
    key="e_waste_kg",
    label=_l("Electronic waste avoided"),
    unit="kg",
    per_device=per_device("e_waste_kg"),  # the typical models are named in shop/categories.py
    source=_l("Manufacturers' data sheets: weight of a typical model of each kind"),
    year=2021,
    note=_l("The weight of a typical device of each kind."),
)

ENVIRONMENT_FACTORS = (CO2E_AVOIDED_KG, RAW_MATERIALS_AVOIDED_KG, E_WASTE_AVOIDED_KG)

# What an equivalent new entry-level device costs, in cents, to measure what people saved.
TYPICAL_NEW_PRICE_CENTS = Factor(
    key="new_price_cents",
    label=_l("Typical price of an equivalent new device"),
    unit="EUR cents",
    per_device=per_device("new_price_cents"),
    source=_l("Emmaüs Connect estimate: entry-level new models in French retail"),
    year=2025,
)

ALL_FACTORS = ENVIRONMENT_FACTORS + (TYPICAL_NEW_PRICE_CENTS,)

# Counts from 1 to SMALL_COUNT_LIMIT - 1 are shown as "fewer than 5": a person must never be
# singled out by a small number.
SMALL_COUNT_LIMIT = 5
