"""The stock version: knowing when the catalog changed, for the page cache.

What the catalog shows changes by scope: "<category>:<pickup point id>" for the units (the
triggers on `devices` bump those, in the transaction of the change), "*" for what every page
shows (pickup points and their hours: the triggers on `pickup_points` and `opening_hours`).
`stock_changed` marks a scope the triggers cannot see (photos); the marks are bumped just before
the commit, in its transaction. A cached page keeps the versions of the scopes it shows
(`Versions.of_page`), read by `versions()`.
"""

import random
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from shop.extensions import db
from shop.models import CatalogVersion, Category, Device, DeviceStatus
from shop.models.stock import VERSION_SHARDS
from shop.models.types import utcnow

_devices = Device.__table__

EVERYTHING = "*"


def scope(category, pickup_point_id) -> str:
    return f"{Category(category).value}:{int(pickup_point_id)}"


def stock_changed(category=None, pickup_point_id=None) -> None:
    """Note that this transaction changes what the catalog shows; versions are bumped at commit.

    With a category and a pickup point, only the pages of that scope are dropped (a photo of a
    unit); with nothing, every page. Changes of a unit's status, price, point, hold or
    description, and of pickup points and their hours, need no call: the database's triggers
    bump their scopes.
    """
    name = EVERYTHING if category is None or pickup_point_id is None else scope(category, pickup_point_id)
    db.session.info.setdefault("catalog_scopes", set()).add(name)


_versions = CatalogVersion.__table__


def _bump(connection, scopes) -> None:
    shard = random.randint(1, VERSION_SHARDS)
    rows = [{"scope": name, "shard": shard, "version": 1} for name in sorted(scopes)]
    insert = (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(_versions)
    connection.execute(insert.on_conflict_do_update(index_elements=["scope", "shard"],
                                                    set_={"version": _versions.c.version + 1}), rows)


@sa.event.listens_for(sa.orm.Session, "before_commit")
def _bump_versions(session) -> None:
    scopes = session.info.pop("catalog_scopes", None)
    if scopes:
        _bump(session.connection(), scopes)


@sa.event.listens_for(sa.orm.Session, "after_rollback")
def _forget_stock_change(session) -> None:
    session.info.pop("catalog_scopes", None)


@dataclass(frozen=True)
class Versions:
    """The catalog's versions as one worker last read them, summed per scope, and when a held unit
    next comes back on sale by itself, in each scope and anywhere (`next_change`)."""

    by_scope: dict
    next_change: object = None
    by_category: dict = field(default_factory=dict)
    by_point: dict = field(default_factory=dict)
    total: int = 0
    ends_by_scope: dict = field(default_factory=dict)  # scope -> the next hold end in it

    @property
    def everything(self) -> int:
        """The version of what every page shows: the pickup points and their hours ("*")."""
        return self.by_scope.get(EVERYTHING, 0)

    @classmethod
    def of(cls, rows, next_change=None, ends_by_scope=None) -> "Versions":
        by_scope, by_category, by_point, total = {}, {}, {}, 0
        for name, version in rows:
            version = int(version)
            by_scope[name] = version
            total += version
            if name != EVERYTHING:
                category, point = name.split(":")
                by_category[category] = by_category.get(category, 0) + version
                by_point[point] = by_point.get(point, 0) + version
        ends_by_scope = ends_by_scope or {}
        if next_change is None and ends_by_scope:
            next_change = min(ends_by_scope.values())
        return cls(by_scope, next_change, by_category, by_point, total, ends_by_scope)

    def of_page(self, category=None, pickup_point_id=None) -> int:
        """A number that grows whenever a page showing this scope may change (None: any)."""
        if category is None and pickup_point_id is None:
            return self.total
        everything = self.everything
        if pickup_point_id is None:
            return everything + self.by_category.get(Category(category).value, 0)
        if category is None:
            return everything + self.by_point.get(str(int(pickup_point_id)), 0)
        return everything + self.by_scope.get(scope(category, pickup_point_id), 0)

    def next_change_of(self, category=None, pickup_point_id=None):
        """When a held unit a page of this scope shows next comes back on sale (None: any scope):
        a hold running out at one point leaves the other points' and categories' pages cached."""
        if category is None and pickup_point_id is None:
            return self.next_change
        if category is not None and pickup_point_id is not None:
            return self.ends_by_scope.get(scope(category, pickup_point_id))
        category = None if category is None else Category(category).value
        point = None if pickup_point_id is None else str(int(pickup_point_id))
        ends = [end for name, end in self.ends_by_scope.items()
                if (category is None or name.split(":")[0] == category)
                and (point is None or name.split(":")[1] == point)]
        return min(ends, default=None)


# One statement: every scope's version, then the next hold end of each scope (held units only,
# through the (status, held_until) index: it does not grow with the units on sale).
_VERSIONS = sa.union_all(
    sa.select(_versions.c.scope, sa.func.sum(_versions.c.version).label("version"),
              sa.type_coerce(sa.null(), _devices.c.held_until.type).label("ends"))
    .group_by(_versions.c.scope),
    sa.select(sa.cast(_devices.c.category, sa.String) + ":" + sa.cast(_devices.c.pickup_point_id, sa.String),
              sa.null(), sa.func.min(_devices.c.held_until))
    .where(_devices.c.status == DeviceStatus.RESERVED, _devices.c.held_until > sa.bindparam("now"))
    .group_by(_devices.c.category, _devices.c.pickup_point_id),
)


def versions(now=None) -> Versions:
    """Every scope's version and the next moment a hold runs out in each, in one statement."""
    rows = db.session.execute(_VERSIONS, {"now": now or utcnow()}).all()
    return Versions.of([(name, version) for name, version, _ in rows if version is not None],
                       ends_by_scope={name: ends for name, version, ends in rows if version is None})


def stock_version() -> int:
    """The sum of every version: grows with any change the catalog shows."""
    return versions().total


def next_availability_change(now=None):
    """When a held unit next comes back on sale by itself (its hold runs out), if ever."""
    return versions(now).next_change
