"""Each device category is described once (shop/categories.py), and every enum agrees with its
database CHECK constraint, so that a new category or eligibility ground cannot pass half-done."""

import dataclasses
import re
from pathlib import Path

import sqlalchemy as sa

from shop import categories
from shop.categories import CATEGORIES, NO_CAP, NO_SOURCED_FACTOR, CategoryFacts, CodeCategory
from shop.extensions import db as _db
from shop.models import Category
from shop.models.types import LabelledEnum
from shop.services import impact_factors

STATIC = Path(__file__).resolve().parent.parent / "shop" / "static"


def test_every_category_has_every_fact():
    assert set(CATEGORIES) == set(Category), "a category without an entry in shop/categories.py"
    factor_keys = {factor.key for factor in impact_factors.ALL_FACTORS}
    for category, facts in CATEGORIES.items():
        assert isinstance(facts, CategoryFacts)
        for name in (f.name for f in dataclasses.fields(CategoryFacts)):
            assert getattr(facts, name) is not None, f"{category}: {name} missing"
        assert isinstance(facts.code_category, CodeCategory)
        assert facts.legal_cap_cents is NO_CAP or (isinstance(facts.legal_cap_cents, int) and facts.legal_cap_cents > 0)
        assert (STATIC / facts.icon).is_file(), f"{category}: no icon {facts.icon}"
        assert callable(facts.hints)
        assert isinstance(facts.warranty_months, int) and 1 <= facts.warranty_months <= 60, f"{category}: warranty"
        assert set(facts.impact) == factor_keys, f"{category}: impact factors {set(facts.impact) ^ factor_keys}"
        for key, value in facts.impact.items():
            assert value is NO_SOURCED_FACTOR or isinstance(value, (int, float)), f"{category}: {key}"


def test_every_code_category_covers_a_device_category():
    for code_category in CodeCategory:
        assert code_category.device_categories, code_category


def test_the_readers_take_their_values_from_the_registry():
    from shop.services import pricing

    assert pricing.LEGAL_CAPS_CENTS == {c: f.legal_cap_cents for c, f in CATEGORIES.items()
                                        if f.legal_cap_cents is not NO_CAP}
    assert pricing.legal_cap(Category.ACCESSORY) is None
    for factor in impact_factors.ALL_FACTORS:
        assert factor.per_device == categories.per_device(factor.key)
    assert CodeCategory.of("desktop") == CodeCategory.COMPUTER
    assert Category.MULTIFUNCTION_PRINTER in CodeCategory.PRINTER.device_categories


def _enum_columns():
    for table in _db.metadata.sorted_tables:
        for column in table.columns:
            enum_class = getattr(column.type, "enum_class", None)
            if enum_class is not None and issubclass(enum_class, LabelledEnum):
                yield table.name, column, enum_class


def test_every_enum_agrees_with_its_check_constraint_in_the_migrated_database(db):
    """Adding a member (an eligibility ground…) without a migration fails here, not on the first save."""
    inspector = sa.inspect(_db.engine)
    columns = list(_enum_columns())
    assert len(columns) > 10
    checked = 0
    for table, column, enum_class in columns:
        constraints = {c["name"]: c["sqltext"] for c in inspector.get_check_constraints(table)}
        name = f"ck_{table}_{column.type.name}"  # the metadata's naming convention
        assert name in constraints, f"{table}.{column.name}: no CHECK constraint {name} in the database"
        in_database = set(re.findall(r"'([^']*)'", constraints[name]))
        assert in_database == {m.value for m in enum_class}, (
            f"{table}.{column.name} ({enum_class.__name__}) and CHECK {name} differ: "
            f"{in_database ^ {m.value for m in enum_class}}"
        )
        checked += 1
    assert checked == len(columns)
