"""What the public catalog shows: listed devices grouped into offers."""

import math
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from shop.categories import facts as category_facts
from shop.extensions import db
from shop.memo import Memo
from shop.models import (
    Category, Device, DevicePhoto, DeviceStatus, Grade, KeyboardLayout, OfferRow, PickupPoint,
)
from shop.models.stock import device_title
from shop.models.types import utcnow
# The stock version lives in services/stock_version.py; its names stay readable here.
from shop.services.stock_version import (  # noqa: F401
    EVERYTHING, Versions, next_availability_change, scope, stock_changed, stock_version, versions,
)

SORTS = ("price_asc", "price_desc")

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
    exclude: str | None = None  # an offer key left out (alternatives to a sold-out offer)
    sort: str = "price_asc"
    first_point_id: int | None = None  # offers at this pickup point come first (then the sort)


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


_offers = OfferRow.__table__
_devices = Device.__table__
_photos = DevicePhoto.__table__
_points = PickupPoint.__table__

_DESCRIPTION = [_offers.c[name] for name in (
    "offer_key", "category", "brand", "model", "cpu", "ram_gb", "storage_gb", "screen_tenths", "os",
    "keyboard_layout", "grade", "price_cents", "pickup_point_id", "listed_battery_min", "listed_battery_max",
)]


def _run_out():
    """Held units whose hold has run out, per offer: available again without any job. Read through
    the (status, held_until) index, so the cost follows the holds that ran out since the last
    `expire-holds`, not the stock."""
    return (
        sa.select(_devices.c.offer_key.label("key"), sa.func.count().label("n"),
                  sa.func.min(_devices.c.battery_health).label("bmin"),
                  sa.func.max(_devices.c.battery_health).label("bmax"))
        .where(_devices.c.status == DeviceStatus.RESERVED, _devices.c.held_until <= sa.bindparam("now"))
        .group_by(_devices.c.offer_key)
        .subquery("run_out")
    )


# Each filter as (field of OfferFilters, condition on a bound parameter of the same name).
_o = _offers.c
_CONDITIONS = {
    "category": lambda: _o.category == sa.bindparam("category"),
    "categories": lambda: _o.category.in_(sa.bindparam("categories", expanding=True)),
    "offer_keys": lambda: _o.offer_key.in_(sa.bindparam("offer_keys", expanding=True)),
    "exclude": lambda: _o.offer_key != sa.bindparam("exclude"),
    "pickup_point_id": lambda: _o.pickup_point_id == sa.bindparam("pickup_point_id"),
    "max_price_cents": lambda: _o.price_cents <= sa.bindparam("max_price_cents"),
    "min_ram_gb": lambda: _o.ram_gb >= sa.bindparam("min_ram_gb"),
    "min_storage_gb": lambda: _o.storage_gb >= sa.bindparam("min_storage_gb"),
}


def _page_statement(fields: tuple, descending: bool, first_at_point: bool = False):
    """One statement: the number of matching offers and one page of them, with their pickup point
    and cover photo. It always returns a row (the count), so an empty page or a page past the
    end costs no second statement. Built once per set of filters used (see _statement)."""
    run_out = _run_out()
    now = sa.bindparam("now")
    count = _offers.c.listed + sa.func.coalesce(run_out.c.n, 0)
    matching = (
        sa.select(*_DESCRIPTION, count.label("count"), run_out.c.bmin, run_out.c.bmax)
        .select_from(_offers.outerjoin(run_out, run_out.c.key == _offers.c.offer_key))
        .where(count > 0, *(_CONDITIONS[name]() for name in fields))
    )
    total = sa.select(sa.func.count().label("total")).select_from(matching.subquery("matching")).subquery("total")
    # Offers at the person's own pickup point first (on-behalf list), then the chosen sort.
    first = [sa.case((_offers.c.pickup_point_id == sa.bindparam("first_point_id"), 0), else_=1)] if first_at_point else []
    page = (
        matching.order_by(*first, _offers.c.price_cents.desc() if descending else _offers.c.price_cents,
                          _offers.c.offer_key)
        .limit(sa.bindparam("limit")).offset(sa.bindparam("offset")).subquery("page")
    )
    # The cover: the first photo of the offer's first available unit that has one. Only the
    # photographed units are read, by the partial index ix_devices_photographed. Its condition is
    # sent with a literal 0: PostgreSQL's generic plan for a prepared statement cannot prove the
    # index's condition from a bound parameter.
    cover = (
        sa.select(_photos.c.id)
        .join(_devices, _devices.c.id == _photos.c.device_id)
        .where(_devices.c.offer_key == page.c.offer_key, _devices.c.photo_count > sa.literal_column("0"),
               Device.available(now, _devices.c))
        .order_by(_devices.c.id, _photos.c.position, _photos.c.id)
        .limit(1)
        .correlate(page)
        .scalar_subquery()
    )
    return (
        sa.select(total.c.total, page, _points.c.name, _points.c.town,
                  _photos.c.token, _photos.c.small_width, _photos.c.small_height,
                  _photos.c.large_width, _photos.c.large_height)
        .select_from(
            total.outerjoin(page, sa.true())
            .outerjoin(_points, _points.c.id == page.c.pickup_point_id)
            .outerjoin(_photos, _photos.c.id == cover)
        )
        .order_by(*([sa.case((page.c.pickup_point_id == sa.bindparam("first_point_id"), 0), else_=1)]
                    if first_at_point else []),
                  page.c.price_cents.desc() if descending else page.c.price_cents, page.c.offer_key)
    )


# Building a statement (and its cache key) costs more CPU than running it on a few hundred
# offers: there are at most 2^8 × 2 × 2 shapes, each built once per process.
_statements: dict[tuple, sa.Select] = {}


def _statement(filters: OfferFilters) -> tuple[sa.Select, dict]:
    params = {name: getattr(filters, name) for name in _CONDITIONS if getattr(filters, name) is not None}
    shape = (tuple(params), filters.sort == "price_desc", filters.first_point_id is not None)
    statement = _statements.get(shape)
    if statement is None:
        statement = _statements[shape] = _page_statement(*shape)
    for name in ("categories", "offer_keys"):
        if name in params:
            params[name] = list(params[name])
    if filters.first_point_id is not None:
        params["first_point_id"] = filters.first_point_id
    return statement, params


def _battery(*values, pick):
    known = [v for v in values if v is not None]
    return pick(known) if known else None


def _to_offer(row) -> Offer:
    return Offer(
        offer_key=row.offer_key, category=Category(row.category), brand=row.brand, model=row.model, cpu=row.cpu,
        ram_gb=row.ram_gb, storage_gb=row.storage_gb, screen_tenths=row.screen_tenths, os=row.os,
        keyboard_layout=KeyboardLayout(row.keyboard_layout) if row.keyboard_layout else None,
        grade=Grade(row.grade), price_cents=row.price_cents, pickup_point_id=row.pickup_point_id,
        pickup_point_name=row.name, pickup_point_town=row.town, count=row.count,
        battery_min=_battery(row.listed_battery_min, row.bmin, pick=min),
        battery_max=_battery(row.listed_battery_max, row.bmax, pick=max),
        photo=Photo(row.token, row.small_width, row.small_height, row.large_width, row.large_height)
        if row.token else None,
    )


# The same offers come back on many pages and filters: each distinct row becomes an Offer once per
# process (an Offer is frozen, and its row holds every value it shows, so a changed offer is a new
# row, never a stale Offer).
_offers_by_row = Memo(20_000)


def _offer(row) -> Offer:
    # The first column is the page's total, not the offer's.
    return _offers_by_row.get(tuple(row)[1:], lambda: _to_offer(row))


def list_offers(filters: OfferFilters, *, page: int = 1, per_page: int = 24, now=None) -> OfferPage:
    """One page of offers matching the filters, in one statement whatever the stock size.

    It reads the offer rows (one per group of identical units, kept by the database) and the
    holds that ran out, never the units on sale.
    """
    page = max(1, page)
    statement, params = _statement(filters)
    params.update(now=now or utcnow(), limit=per_page, offset=(page - 1) * per_page)
    rows = db.session.execute(statement, params).all()
    offers = [_offer(row) for row in rows if row.offer_key is not None]
    return OfferPage(offers=offers, total=rows[0].total, page=page, per_page=per_page)


def get_offer(offer_key: str, *, now=None) -> Offer | None:
    """The offer with this key, if at least one unit of it is on sale."""
    found = list_offers(OfferFilters(offer_keys=(offer_key,)), per_page=1, now=now).offers
    return found[0] if found else None


_OFFER_CATEGORY = sa.select(_offers.c.category).where(_offers.c.offer_key == sa.bindparam("key"))


# An offer key is a digest of the offer's attributes, its category among them, so the category of
# a key never changes: each process remembers the keys it has seen (reserving asks on every attempt).
_category_of_key: dict[str, Category] = {}
_CATEGORY_OF_KEY_MAX = 20_000


def offer_category(offer_key: str) -> Category | None:
    """The category of an offer key that exists (on sale or not), else None."""
    category = _category_of_key.get(offer_key)
    if category is None:
        found = db.session.scalar(_OFFER_CATEGORY, {"key": offer_key})
        if found is not None:
            category = Category(found)
            if len(_category_of_key) >= _CATEGORY_OF_KEY_MAX:
                _category_of_key.clear()
            _category_of_key[offer_key] = category
    return category


def offer_existed(offer_key: str) -> Category | None:
    """The category of a key that has units (now sold out), else None."""
    found = db.session.scalar(_OFFER_CATEGORY, {"key": offer_key})
    return None if found is None else Category(found)


def _category_counts_statement():
    run_out = _run_out()
    return (
        sa.select(_offers.c.category, sa.func.sum(_offers.c.listed + sa.func.coalesce(run_out.c.n, 0)))
        .select_from(_offers.outerjoin(run_out, run_out.c.key == _offers.c.offer_key))
        .group_by(_offers.c.category)
    )


_CATEGORY_COUNTS = _category_counts_statement()


def category_counts(now=None) -> dict[Category, int]:
    """How many units of each category are on sale, in the order of the Category enum."""
    rows = db.session.execute(_CATEGORY_COUNTS, {"now": now or utcnow()}).all()
    counts = {Category(category): int(n or 0) for category, n in rows}
    return {category: counts.get(category, 0) for category in Category}


def active_pickup_points(*, with_hours: bool = False) -> list[PickupPoint]:
    stmt = sa.select(PickupPoint).where(PickupPoint.active.is_(True)).order_by(PickupPoint.town, PickupPoint.name)
    if with_hours:
        stmt = stmt.options(selectinload(PickupPoint.opening_hours))
    return list(db.session.scalars(stmt))


# On the table's columns, not the model's: the session then skips the ORM's result set-up (a third
# of this statement's cost, on every catalog page).
_POINT_NAMES = (sa.select(_points.c.id, _points.c.name, _points.c.town).where(_points.c.active.is_(True))
                .order_by(_points.c.town, _points.c.name))


def active_pickup_point_names() -> list:
    """The open pickup points' id, name and town (rows, in the order of `active_pickup_points`):
    what the catalog's filter offers, without loading the points as objects."""
    return db.session.execute(_POINT_NAMES).all()


def pickup_point_in(town: str) -> PickupPoint | None:
    """The open pickup point of a town (the first by name if there are several), or None."""
    return db.session.scalar(
        sa.select(PickupPoint).where(PickupPoint.active.is_(True), sa.func.lower(PickupPoint.town) == town.lower())
        .order_by(PickupPoint.name).limit(1)
    )


# The point with its opening hours in one statement (a join, not a second SELECT): the offer,
# reserve and confirmation pages each show them.
_POINT_WITH_HOURS = (sa.select(PickupPoint).where(PickupPoint.id == sa.bindparam("point_id"))
                     .options(joinedload(PickupPoint.opening_hours)))


def get_pickup_point(pickup_point_id: int) -> PickupPoint | None:
    return db.session.scalars(_POINT_WITH_HOURS, {"point_id": pickup_point_id}).unique().first()


@dataclass(frozen=True)
class ShownHours:
    weekday: int
    opens: object  # datetime.time, local Paris time
    closes: object


@dataclass(frozen=True)
class ShownPoint:
    """A pickup point as the public pages show it (its card, its pickup times' mode): plain values,
    which a worker can keep from one request to the next (see pagecache.while_points_unchanged)."""

    id: int
    slug: str
    name: str
    address: str
    postcode: str
    town: str
    phone: str | None
    slot_mode: str
    opening_hours: tuple[ShownHours, ...]
    shown: tuple  # PickupPoint.shown: the key its card is kept rendered under

    @classmethod
    def of(cls, point: PickupPoint) -> "ShownPoint":
        return cls(point.id, point.slug, point.name, point.address, point.postcode, point.town, point.phone,
                   point.slot_mode, tuple(ShownHours(h.weekday, h.opens, h.closes) for h in point.opening_hours),
                   point.shown)


def shown_active_pickup_points() -> tuple[ShownPoint, ...]:
    """The open pickup points with their opening hours, as plain values, in the order of
    `active_pickup_points`."""
    return tuple(ShownPoint.of(point) for point in active_pickup_points(with_hours=True))


def shown_pickup_point(pickup_point_id: int) -> ShownPoint | None:
    """The pickup point with its opening hours, as plain values (None if there is no such point)."""
    point = get_pickup_point(pickup_point_id)
    return None if point is None else ShownPoint.of(point)


def plain_words(offer: Offer) -> list:
    """What the device is good for, in plain words, from its specs (per category: shop/categories.py)."""
    hints = category_facts(offer.category).hints(offer)
    if offer.keyboard_layout == KeyboardLayout.AZERTY:
        hints.append(_l("French keyboard."))
    return hints
