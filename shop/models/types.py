"""Column types and enum helpers shared by every model module."""

import enum
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from werkzeug.routing import IntegerConverter


# Row ids are integers (32-bit on PostgreSQL): a number outside 1..MAX_ROW_ID from a form or a URL
# names no row, and must not reach the database, whose integer would overflow.
MAX_ROW_ID = 2**31 - 1


def is_row_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ROW_ID


class RowIdConverter(IntegerConverter):
    """The URL converter for `<int:…>`: only plausible row ids match, anything else is a 404."""

    def __init__(self, map, fixed_digits=0, min=1, max=MAX_ROW_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class LabelledEnum(str, enum.Enum):
    """A string enum whose members carry a lazily translated label."""

    def __new__(cls, value, label=None):
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj._label = label
        return obj

    @property
    def label(self):
        return self._label if self._label is not None else self.value

    def __str__(self) -> str:
        return self.value


def all_of(*conditions):
    """`and` for Python values and SQL expressions alike, so a hybrid rule is written once."""
    if any(isinstance(c, sa.sql.ClauseElement) for c in conditions):
        return sa.and_(*conditions)
    return all(conditions)


def one_of(value, choices):
    """`value in choices` for a Python value, `value IN (…)` for a column."""
    return value.in_(choices) if hasattr(value, "in_") else value in choices


def enum_column(enum_cls: type[enum.Enum], name: str) -> sa.Enum:
    """A portable enum column: VARCHAR plus a named CHECK constraint."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda e: [m.value for m in e],
    )


def render_item(type_, obj, autogen_context):
    """Write UTCDateTime into migrations as the plain type it stores."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
