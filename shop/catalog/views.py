"""Public pages: home, catalog and offer."""

from typing import NamedTuple

from flask import (Blueprint, abort, current_app, get_template_attribute, render_template, request,
                   send_from_directory, url_for)
from markupsafe import Markup

from shop.catalog.forms import CatalogFilterForm
from shop.i18n import current_language
from shop import memo
from shop.models.stock import looks_like_offer_key
from shop.pagecache import (
    cached_page, page_shows, page_shows_only, shown_active_pickup_points, shown_pickup_point,
    while_points_unchanged,
)
from shop.services import catalog, devices, photos
from shop.services.errors import NotFound

bp = Blueprint("catalog", __name__)


@bp.get("/")
@cached_page
def home():
    return render_template(
        "catalog/home.html",
        counts=catalog.category_counts(),
        pickup_points=shown_active_pickup_points(),
    )


@bp.get("/catalog")
@cached_page
def index():
    reading = _read_filters(while_points_unchanged(catalog.active_pickup_point_names))
    filters, page = reading.filters, reading.page
    page_shows(filters.category, filters.pickup_point_id)
    per_page = current_app.config["CATALOG_PAGE_SIZE"]
    result = catalog.list_offers(filters, page=page, per_page=per_page)
    # Everything else on the page comes from the address (the filters, the links) or from the
    # pickup points (under "*"): a change that leaves these offers as they are leaves the page.
    page_shows_only(lambda: catalog.list_offers(filters, page=page, per_page=per_page), result)
    return render_template(
        "catalog/index.html",
        waitlist=reading.waitlist,
        filters=reading.form_html,
        offer_card=_offer_card(),
        result=result,
        beyond_last_page=page > result.pages,
        page_url=lambda n: url_for("catalog.index", **reading.page_args, page=n),
    )


# Parts of the catalog page kept rendered, in each app, by language, script root and everything
# they show: what changes in the database makes another key, never a stale part.
FILTER_READINGS, FILTER_FORMS, OFFER_CARDS = "catalog_filter_readings", "catalog_filter_forms", "catalog_offer_cards"


class FilterReading(NamedTuple):
    """What a catalog query string means, read once per language, query string and set of pickup
    points offered: the valid filters and page, the query's other arguments for the page links,
    the waitlist link's arguments (a valid kind of device chosen) and the filter form rendered."""

    filters: catalog.OfferFilters
    page: int
    page_args: dict
    waitlist: dict | None
    form_html: Markup


def _read_filters(points: list) -> FilterReading:
    """The filter form of this request, built and validated once per key: WTForms' binding and
    validation of the seven fields was about a tenth of an uncached page."""
    def read() -> FilterReading:
        form = CatalogFilterForm(request.args, points)
        form.validate()
        filters, page = form.to_filters()
        category = form.category.data if form.category.data and not form.category.errors else None
        return FilterReading(
            filters, page,
            page_args={k: v for k, v in request.args.items() if k != "page" and k in form._fields and v},
            waitlist={"category": category, "point": form.point.data or None} if category else None,
            form_html=_filter_form(form),
        )

    key = (current_language(), request.script_root, tuple(request.args.items(multi=True)), tuple(points))
    return memo.of_app(FILTER_READINGS, 2048).get(key, read)


def _filter_form(form: CatalogFilterForm) -> Markup:
    """The filter form, kept by what the form shows (see `rendering_key`): the same few hundred
    combinations come back again and again (pages 2 and 3 of a filter show page 1's form), and the
    fields' macros were a third of the page."""
    def render():
        macro = get_template_attribute("_macros/shop.html", "offer_filters")
        return macro(form, url_for("catalog.index"), form.errors or request.args)

    key = (current_language(), request.script_root, bool(request.args), form.rendering_key())
    return memo.of_app(FILTER_FORMS, 1024).get(key, render)


def _offer_card():
    """The card of an offer in the list, kept by the offer's every field (its count and price
    too): a catalog page shows up to 24, the same offers on many pages and filters."""
    cards, macro = memo.of_app(OFFER_CARDS, 4096), get_template_attribute("_macros/shop.html", "offer_card")
    language, root = current_language(), request.script_root
    return lambda offer: cards.get((language, root, offer), lambda: macro(offer))


@bp.get("/offer/<offer_key>")
@cached_page
def offer(offer_key: str):
    found = catalog.get_offer(offer_key) if looks_like_offer_key(offer_key) else None
    if found is None:
        category = catalog.offer_existed(offer_key) if looks_like_offer_key(offer_key) else None
        if category is None:
            abort(404)
        page_shows(category)
        return render_template("catalog/sold_out.html", category=category), 410
    page_shows(found.category, found.pickup_point_id)
    # The page shows this offer and its pickup point (under "*"): another offer of the same kind
    # and point reserved leaves it as it is.
    page_shows_only(lambda: catalog.get_offer(offer_key), found)
    return render_template(
        "catalog/offer.html",
        offer=found,
        hints=catalog.plain_words(found),
        point=shown_pickup_point(found.pickup_point_id),
    )


@bp.get("/photos/<name>")
def photo(name: str):
    """A photo variant. Its name holds a random token and never changes: cached for a year."""
    if not photos.is_variant_name(name):
        abort(404)
    response = send_from_directory(photos.folder(), name, mimetype="image/webp", max_age=365 * 24 * 3600,
                                   conditional=True, etag=True)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


@bp.get("/passport/<token>")
def passport(token: str):
    """A device's passport, reached from the QR code on its label. The URL holds a random token
    rather than the id, so nobody can walk through the whole stock."""
    try:
        found = devices.passport(token)
    except NotFound:
        abort(404)
    from shop.services import warranty

    return render_template("catalog/passport.html", passport=found, device=found.device,
                           warranty_end=warranty.end_for_device(found.device))
