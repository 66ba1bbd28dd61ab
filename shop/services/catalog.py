"""What the public catalog shows: listed devices grouped into offers."""

import math
import random
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from shop.extensions import db
from shop.models import (
    Category, Device, DevicePhoto, DeviceStatus, Grade, KeyboardLayout, PickupPoint, StockVersion,
)
from shop.models.stock import STOCK_VERSION_SHARDS, device_title
from shop.models.types import utcnow

SORTS = ("price_asc", "price_desc")

_GROUP_COLUMNS = (
    Device.offer_key, Device.category, Device.brand, Device.model, Device.cpu, Device.ram_gb,
    Device.storage_gb, Device.screen_tenths, Device.os, Device.keyboard_layout, Device.grade,
    Device.price_cents, Device.pickup_point_id, PickupPoint.name, PickupPoint.town,
)


@dataclass(frozen=True)
class Photo:
    """The photo shown for an offer: the first photo of its first unit that has one."""

    token: str
    small_width: int
    small_height: int
    large_width: int
    large_height: int

    def name(self, size: str) -> str:
        from shop.services.photos import VARIANTS, file_name

        return file_name(self.token, VARIANTS[size])


@dataclass(frozen=True)
class Offer:
    """Identical listed units, shown as one line with a count."""

    offer_key: str
    category: Category
    brand: str
    model: str
    cpu: str | None
    ram_gb: int | None
    storage_gb: int | None
    screen_tenths: int | None
    os: str | None
    keyboard_layout: KeyboardLayout | None
    grade: Grade
    price_cents: int
    pickup_point_id: int
    pickup_point_name: str
    pickup_point_town: str
    count: int
    battery_min: int | None
    battery_max: int | None
    photo: Photo | None = None

    @property
    def title(self) -> str:
        return device_title(self.brand, self.model)

    @property
    def screen_inches(self) -> float | None:
        return None if self.screen_tenths is None else self.screen_tenths / 10


@dataclass(frozen=True)
class OfferFilters:
    category: Category | None = None
    categories: tuple[Category, ...] | None = None
    pickup_point_id: int | None = None
    max_price_cents: int | None = None
    min_ram_gb: int | None = None
    min_storage_gb: int | None = None
    offer_keys: tuple[str, ...] | None = None
    sort: str = "price_asc"


@dataclass(frozen=True)
class OfferPage:
    offers: list[Offer]
    total: int
    page: int
    per_page: int
    pages: int = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "pages", max(1, math.ceil(self.total / self.per_page)))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _cover_photos(condition, now):
    """A subquery ranking the photos of the available units of some offers: rank 1 is the
    offer's cover. Joined into the offers' own query, so photos cost no query of their own."""
    ranked = (
        sa.select(
            Device.offer_key.label("photo_offer_key"), DevicePhoto.token.label("photo_token"),
            DevicePhoto.small_width.label("photo_small_width"), DevicePhoto.small_height.label("photo_small_height"),
            DevicePhoto.large_width.label("photo_large_width"), DevicePhoto.large_height.label("photo_large_height"),
            sa.func.row_number().over(partition_by=Device.offer_key,
                                      order_by=(Device.id, DevicePhoto.position, DevicePhoto.id)).label("photo_rank"),
        )
        .join(Device, Device.id == DevicePhoto.device_id)
        .where(condition, Device.available(now))
        .subquery("cover")
    )
    columns = [c for c in ranked.c if c.name.startswith("photo_") and c.name not in ("photo_offer_key", "photo_rank")]
    return ranked, columns, sa.and_(ranked.c.photo_offer_key == Device.offer_key, ranked.c.photo_rank == 1)


def _offer_select(where, now=None, *, offer_key=None):
    now = now or utcnow()
    ranked, photo_columns, on = _cover_photos(Device.offer_key == offer_key, now)
    return (
        sa.select(
            *_GROUP_COLUMNS,
            *photo_columns,
            sa.func.count(Device.id).label("count"),
            sa.func.min(Device.battery_health).label("battery_min"),
            sa.func.max(Device.battery_health).label("battery_max"),
        )
        .join(PickupPoint, PickupPoint.id == Device.pickup_point_id)
        .outerjoin(ranked, on)
        .where(Device.available(now), *where)
        .group_by(*_GROUP_COLUMNS, *photo_columns)
    )


def _to_offer(row) -> Offer:
    values = row if isinstance(row, dict) else row._mapping
    return Offer(
        offer_key=values["offer_key"], category=values["category"], brand=values["brand"],
        model=values["model"], cpu=values["cpu"], ram_gb=values["ram_gb"],
        storage_gb=values["storage_gb"], screen_tenths=values["screen_tenths"], os=values["os"],
        keyboard_layout=values["keyboard_layout"], grade=values["grade"],
        price_cents=values["price_cents"], pickup_point_id=values["pickup_point_id"],
        pickup_point_name=values["name"], pickup_point_town=values["town"], count=values["count"],
        battery_min=values["battery_min"], battery_max=values["battery_max"],
        photo=Photo(values["photo_token"], values["photo_small_width"], values["photo_small_height"],
                    values["photo_large_width"], values["photo_large_height"]) if values.get("photo_token") else None,
    )


def _where(filters: OfferFilters) -> list:
    where = []
    if filters.category is not None:
        where.append(Device.category == filters.category)
    if filters.categories is not None:
        where.append(Device.category.in_(filters.categories))
    if filters.offer_keys is not None:
        where.append(Device.offer_key.in_(filters.offer_keys))
    if filters.pickup_point_id is not None:
        where.append(Device.pickup_point_id == filters.pickup_point_id)
    if filters.max_price_cents is not None:
        where.append(Device.price_cents <= filters.max_price_cents)
    if filters.min_ram_gb is not None:
        where.append(Device.ram_gb >= filters.min_ram_gb)
    if filters.min_storage_gb is not None:
        where.append(Device.storage_gb >= filters.min_storage_gb)
    return where


def list_offers(filters: OfferFilters, *, page: int = 1, per_page: int = 24, now=None) -> OfferPage:
    """One page of offers matching the filters, in two queries whatever the stock size.

    The first groups the available units by offer key only (cheap) and counts the groups with a
    window function; the second fetches the shown offers' details from one unit of each.
    """
    now = now or utcnow()
    page = max(1, page)
    where = [Device.available(now), *_where(filters)]
    price = sa.func.min(Device.price_cents)
    groups = db.session.execute(
        sa.select(
            Device.offer_key, sa.func.count(Device.id).label("count"),
            sa.func.min(Device.battery_health).label("battery_min"),
            sa.func.max(Device.battery_health).label("battery_max"),
            sa.func.count().over().label("total"),
        )
        .where(*where)
        .group_by(Device.offer_key)
        .order_by(price.desc() if filters.sort == "price_desc" else price.asc(), Device.offer_key)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    if groups:
        total = groups[0].total
    else:  # an empty result, or a page past the end: count the offers to say so
        total = db.session.scalar(sa.select(sa.func.count(sa.distinct(Device.offer_key))).where(*where)) or 0
    return OfferPage(offers=_offers_for(groups, now), total=total, page=page, per_page=per_page)


_DETAIL_COLUMNS = (
    Device.offer_key, Device.category, Device.brand, Device.model, Device.cpu, Device.ram_gb, Device.storage_gb,
    Device.screen_tenths, Device.os, Device.keyboard_layout, Device.grade, Device.price_cents,
    Device.pickup_point_id, PickupPoint.name, PickupPoint.town,
)


def _offers_for(groups, now) -> list[Offer]:
    """The offers for grouped rows, in their order: details read from one unit of each offer,
    with the offer's cover photo if it has one."""
    if not groups:
        return []
    keys = [g.offer_key for g in groups]
    one_unit = sa.select(sa.func.min(Device.id)).where(Device.offer_key.in_(keys)).group_by(Device.offer_key)
    ranked, photo_columns, on = _cover_photos(Device.offer_key.in_(keys), now)
    details = {
        row.offer_key: row._mapping
        for row in db.session.execute(
            sa.select(*_DETAIL_COLUMNS, *photo_columns).join(PickupPoint, PickupPoint.id == Device.pickup_point_id)
            .outerjoin(ranked, on)
            .where(Device.id.in_(one_unit))
        )
    }
    return [
        _to_offer({**details[g.offer_key], "count": g.count, "battery_min": g.battery_min, "battery_max": g.battery_max})
        for g in groups if g.offer_key in details
    ]


def get_offer(offer_key: str, *, now=None) -> Offer | None:
    """The offer with this key, if at least one unit of it is on sale."""
    row = db.session.execute(_offer_select([Device.offer_key == offer_key], now, offer_key=offer_key)).first()
    return None if row is None else _to_offer(row)


_OFFER_CATEGORY = sa.select(Device.category).where(Device.offer_key == sa.bindparam("key")).limit(1)


# An offer key is a digest of the offer's attributes, its category among them, so the category of
# a key never changes: each process remembers the keys it has seen (reserving asks on every attempt).
_category_of_key: dict[str, Category] = {}
_CATEGORY_OF_KEY_MAX = 20_000


def offer_category(offer_key: str) -> Category | None:
    """The category of an offer key that exists (on sale or not), else None."""
    category = _category_of_key.get(offer_key)
    if category is None:
        category = db.session.scalar(_OFFER_CATEGORY, {"key": offer_key})
        if category is not None:
            if len(_category_of_key) >= _CATEGORY_OF_KEY_MAX:
                _category_of_key.clear()
            _category_of_key[offer_key] = category
    return category


def offer_existed(offer_key: str) -> Category | None:
    """The category of a key that once had units (now sold out), else None."""
    return db.session.scalar(sa.select(Device.category).where(Device.offer_key == offer_key).limit(1))


def category_counts() -> dict[Category, int]:
    """How many units of each category are on sale, in the order of the Category enum."""
    rows = db.session.execute(
        sa.select(Device.category, sa.func.count(Device.id))
        .where(Device.available(utcnow()))
        .group_by(Device.category)
    ).all()
    counts = dict(rows)
    return {category: counts.get(category, 0) for category in Category}


def active_pickup_points(*, with_hours: bool = False) -> list[PickupPoint]:
    stmt = sa.select(PickupPoint).where(PickupPoint.active.is_(True)).order_by(PickupPoint.town, PickupPoint.name)
    if with_hours:
        stmt = stmt.options(selectinload(PickupPoint.opening_hours))
    return list(db.session.scalars(stmt))


def get_pickup_point(pickup_point_id: int) -> PickupPoint | None:
    return db.session.scalar(
        sa.select(PickupPoint)
        .where(PickupPoint.id == pickup_point_id)
        .options(selectinload(PickupPoint.opening_hours))
    )


def plain_words(offer: Offer) -> list:
    """What the device is good for, in plain words, from its specs."""
    hints = []
    category = offer.category
    if category.is_computer or category == Category.TABLET:
        ram = offer.ram_gb or 0
        if ram >= 16:
            hints.append(_l("Good for photo editing, many open tabs and demanding programs."))
        if ram >= 8:
            hints.append(_l("Good for video calls, school work and office programs."))
        elif ram >= 4:
            hints.append(_l("Good for the web, e-mail, online forms and video calls."))
        else:
            hints.append(_l("Good for the web, e-mail and online forms."))
    if category == Category.SMARTPHONE:
        hints.append(_l("Good for calls, messages, video calls and online services."))
        if (offer.storage_gb or 0) >= 64:
            hints.append(_l("Room for many photos and apps."))
    if category == Category.LAPTOP and offer.screen_tenths and offer.screen_tenths <= 133:
        hints.append(_l("Small and light: easy to carry."))
    if category == Category.SCREEN:
        hints.append(_l("Plugs into a computer to see more at once."))
    if category in (Category.PRINTER, Category.MULTIFUNCTION_PRINTER):
        hints.append(_l("Prints your documents at home."))
        if category == Category.MULTIFUNCTION_PRINTER:
            hints.append(_l("Also scans and copies papers for your applications."))
    if offer.keyboard_layout == KeyboardLayout.AZERTY:
        hints.append(_l("French keyboard."))
    return hints


# --- Knowing when the catalog changed (for the page cache) --------------------------------------

def stock_changed() -> None:
    """Note that this transaction changes what the catalog shows; the version is bumped at commit."""
    db.session.info["stock_changed"] = True


_stock_version = StockVersion.__table__
_BUMP_STOCK_VERSION = (sa.update(_stock_version).where(_stock_version.c.id == sa.bindparam("shard"))
                       .values(version=_stock_version.c.version + 1))  # built once: every stock change runs it


@sa.event.listens_for(sa.orm.Session, "before_commit")
def _bump_stock_version(session) -> None:
    if session.info.pop("stock_changed", False):
        shard = random.randint(1, STOCK_VERSION_SHARDS)
        result = session.execute(_BUMP_STOCK_VERSION, {"shard": shard})
        if result.rowcount == 0:  # a database emptied by hand (tests): recreate the counter
            session.add(StockVersion(id=shard, version=1))
            session.flush()


@sa.event.listens_for(sa.orm.Session, "after_rollback")
def _forget_stock_change(session) -> None:
    session.info.pop("stock_changed", None)


def stock_version() -> int:
    return db.session.scalar(sa.select(sa.func.sum(StockVersion.version))) or 0


def next_availability_change(now=None):
    """When a held unit next comes back on sale by itself (its hold runs out), if ever."""
    now = now or utcnow()
    return db.session.scalar(
        sa.select(sa.func.min(Device.held_until)).where(Device.status == DeviceStatus.RESERVED, Device.held_until > now)
    )
