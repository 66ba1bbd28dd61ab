"""Solidarity Shop: refurbished devices at solidarity prices, for people with an eligibility code."""

import gzip
import hashlib
import logging
import sys
import time
from decimal import Decimal
from pathlib import Path

from flask import Flask, Request, abort, current_app, flash, g, make_response, message_flashed, render_template, request, session
from flask_login import current_user, logout_user
from babel import numbers
from babel.lists import format_list
from flask_babel import lazy_gettext as _l
from flask_babel import get_locale
from flask_wtf.csrf import CSRFError
from markupsafe import Markup, escape
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.middleware.proxy_fix import ProxyFix

from shop import config as config_module
from shop.extensions import babel, csrf, db, limiter, login_manager, migrate, rollback_quietly, sqlite_begin_mode
from shop.models.types import RowIdConverter, render_item
from shop.pagecache import FrontDoor, PageCache, serve_from_cache
from shop import accesslog, errorreports, i18n, memo, observe, ratelimits
from shop.i18n import current_language, language_list, select_locale, text_direction
from shop.security import SessionInterface, set_security_headers

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


def _refused_configuration_in_one_line(kind, value, traceback, _previous=sys.excepthook):
    """`flask --app shop …` with a refused configuration: one line on stderr (exit status 1),
    not the traceback of the whole factory."""
    if issubclass(kind, config_module.ConfigError):
        print(f"Refused configuration: {value}", file=sys.stderr)
    else:
        _previous(kind, value, traceback)


sys.excepthook = _refused_configuration_in_one_line


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder="../templates", instance_path=str(ROOT / "instance"))
    app.request_class = ShopRequest
    app.session_interface = SessionInterface()
    app.config.update(config_module.load())
    if config:
        app.config.update(config)
    observe.configure_logging(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    try:
        config_module.check(app.config)
    except config_module.ConfigError as error:
        if config_module.server_options().under_gunicorn:
            # gunicorn prints this error's one line and stops, instead of a traceback per worker.
            from gunicorn.errors import AppImportError

            raise AppImportError(f"Refused configuration: {error}") from None
        raise
    errorreports.init(app)
    # Cached pages asked again the same way are answered before Flask builds a request; inside
    # ProxyFix, so the scheme and host it keys them by are those the visitor used.
    app.wsgi_app = FrontDoor(app, app.wsgi_app)
    if app.config["PROXY_FIX"]:
        hops = app.config["PROXY_FIX"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A file opened in this process cannot lose its connection: the ping before each checkout
        # (for a database server that restarted) would only be one more statement per request.
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options.pop("pool_pre_ping", None)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True,
        render_item=render_item,
    )
    observe.install_request_hooks(app)  # first: the request id and clock cover every other hook
    # Before the page cache's hook, which reads the versions (and may check an offer again).
    app.before_request(_choose_sqlite_begin_mode)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    app.before_request(serve_from_cache)  # before the limiter's hook: cached pages skip the rest
    message_flashed.connect(i18n.remember_flash_language, app)
    accesslog.install_development_filter()
    limiter.init_app(app)
    ratelimits.check_only_where_limits_apply(app)
    login_manager.init_app(app)
    app.extensions["page_cache"] = PageCache()
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"

    # Every <int:…> in a URL is a row id: a number no row can have is a 404 at routing, before any
    # view hands it to the database (whose integer would overflow: a 500).
    app.url_map.converters["int"] = RowIdConverter
    from shop import admin, auth, catalog, impact, pages, partner, payments, reserve, sms, staff

    # Each area's package imports all its route modules (see its __init__.py).
    for area in (catalog, pages, auth, partner, reserve, payments, admin, staff, sms, impact):
        app.register_blueprint(area.bp)

    from shop.cli import register_cli

    register_cli(app)
    _register_template_helpers(app)
    _register_error_pages(app)
    _register_request_hooks(app)
    from shop.api import init_app as init_api

    init_api(app)  # after the error pages: it answers problem details under /api/v1/

    _serve_static_compressed(app)

    from shop import health

    health.register(app)

    return app


def _choose_sqlite_begin_mode():
    """Safe requests read beside each other (DEFERRED); others take the write lock at once."""
    sqlite_begin_mode.set("DEFERRED" if request.method in ("GET", "HEAD", "OPTIONS") else "IMMEDIATE")


def _register_request_hooks(app: Flask) -> None:
    @app.before_request
    def refuse_nul_in_paths():
        """No link has a NUL character in its path (see ShopRequest for query strings and forms)."""
        if "\x00" in request.path:
            abort(400)
        return None

    @app.before_request
    def sign_out_idle_sessions():
        """A signed-in session unused for SESSION_IDLE_MINUTES ends (the remember cookie aside)."""
        if "_user_id" not in session:
            return None
        now = int(time.time())
        seen = session.get("seen", now)
        if now - seen > app.config["SESSION_IDLE_MINUTES"] * 60:
            logout_user()
            session.clear()
            flash(_l("You were signed out after a while without activity. Please sign in again."), "info")
            return None
        if now - seen > 60:  # refresh at most once a minute: fewer cookie rewrites
            session["seen"] = now
        session.setdefault("seen", now)
        return None

    @app.after_request
    def finish(response):
        # One transaction per request: commit what the services flushed, only on success. A
        # request that never opened a database session (most cached pages) has nothing to end:
        # creating one just to commit it was a third of a cached page's CPU.
        if db.session.registry.has():
            if response.status_code < 400:
                db.session.commit()
            else:
                rollback_quietly()
        set_security_headers(response, secure=request.is_secure)
        return _gzip(response)


class ShopRequest(Request):
    """A request whose query string and form never carry a NUL character: nobody types one, and
    PostgreSQL can neither store nor compare one. It becomes U+FFFD (as Werkzeug already shows
    bytes that are not UTF-8), so the value fails validation or matches nothing, like any typo."""

    @cached_property
    def args(self):
        return _without_nul(Request.args.fget(self))

    @cached_property
    def wtforms_translations(self):
        """Where Flask-WTF looks for WTForms' messages of this request (it loads them from disk
        when this is missing): the process's copy for the request's language."""
        return i18n.wtforms_translations(str(get_locale()))

    def _load_form_data(self) -> None:
        loaded = "form" in self.__dict__
        if not loaded and self.mimetype == "application/x-www-form-urlencoded":
            # Werkzeug caps multipart text fields (MAX_FORM_MEMORY_SIZE) but not URL-encoded bodies:
            # those are capped to what the largest form can hold, so a megabyte never reaches a
            # validator (a 413 page instead; reading stops at the cap, chunked bodies too).
            cap = current_app.config["MAX_URLENCODED_BYTES"]
            if self.content_length is not None:
                if self.max_content_length is None or self.max_content_length > cap:
                    self.max_content_length = cap  # Werkzeug answers 413 before reading
            else:  # chunked: the stream would stop quietly at the cap and pass a cut value on
                self.max_content_length = cap + 1
                if len(self.get_data(cache=True)) > cap:
                    raise RequestEntityTooLarge()
        super()._load_form_data()
        if not loaded:
            self.__dict__["form"] = _without_nul(self.__dict__["form"])


def _without_nul(multidict):
    if not any("\x00" in key or "\x00" in value for key, value in multidict.items(multi=True)):
        return multidict
    return type(multidict)(
        (key.replace("\x00", "\ufffd"), value.replace("\x00", "\ufffd")) for key, value in multidict.items(multi=True)
    )


_COMPRESSIBLE = (".css", ".svg", ".js")


def _serve_static_compressed(app: Flask) -> None:
    """Static CSS, SVG and scripts go out gzipped when the browser accepts it, compressed once per
    process and file version (nginx does the same in front, see docs/DEPLOY.md)."""
    plain = app.view_functions["static"]
    compressed: dict[tuple, bytes] = {}

    def static(filename):
        response = plain(filename=filename)
        if (not filename.endswith(_COMPRESSIBLE) or response.status_code != 200
                or "gzip" not in request.headers.get("Accept-Encoding", "")):
            return response
        path = Path(app.static_folder) / filename
        key = (filename, path.stat().st_mtime_ns)
        if key not in compressed:
            compressed[key] = gzip.compress(path.read_bytes(), compresslevel=9)
        response.close()
        response.direct_passthrough = False
        response.set_data(compressed[key])
        response.headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
        etag, weak = response.get_etag()
        if etag:  # another representation, another tag
            response.set_etag(f"{etag}-gzip", weak=weak)
        return response.make_conditional(request)

    app.view_functions["static"] = static


def _gzip(response):
    """Compress HTML for people on slow, metered connections when no front server does it."""
    if (
        response.direct_passthrough
        or response.status_code < 200
        or "gzip" not in request.headers.get("Accept-Encoding", "")
        or "Content-Encoding" in response.headers
        or not (response.mimetype or "").startswith(("text/html", "application/json", "text/csv"))
    ):
        return response
    body = response.get_data()
    if len(body) < 500:
        return response
    response.set_data(gzip.compress(body, compresslevel=6))
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Content-Length"] = str(len(response.get_data()))
    response.vary.add("Accept-Encoding")
    return response


def _register_template_helpers(app: Flask) -> None:
    static_hashes: dict[str, str] = {}
    template_url_for = memo.memoized_url_for(app)  # each address built once (see shop/memo.py)

    def static_url(filename: str) -> str:
        """URL of a static file with a content hash, so it can be cached for a year."""
        if filename not in static_hashes:
            path = Path(app.static_folder) / filename
            static_hashes[filename] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        return template_url_for("static", filename=filename, v=static_hashes[filename])

    # Formatted values come out isolated (`<bdi>`), like escaping: they sit in sentences of either
    # direction. `|text` gives the bare string for places where markup cannot go (a <title>).
    def isolated(formatter):
        return lambda value, *args, **kwargs: i18n.bdi(formatter(value, *args, **kwargs))

    prices: dict[tuple, str] = {}  # a catalog page formats the same few prices again and again

    def price(cents: int) -> str:
        key = (str(get_locale()), cents)
        text = prices.get(key)
        if text is None:
            if len(prices) > 20_000:
                prices.clear()
            text = prices[key] = i18n.money(cents)
        return text

    def money(cents: int, currency: str | None) -> str:
        """An amount in any currency (what a payment provider reported), in the page's language."""
        return numbers.format_currency(Decimal(cents) / 100, (currency or "EUR").upper(), locale=i18n.format_locale())

    def as_text(markup):
        """Markup as plain text (for a <title>), its isolated values kept isolated with FSI…PDI."""
        if not isinstance(markup, Markup):
            return markup
        return Markup(markup.replace("<bdi>", i18n.FSI).replace("</bdi>", i18n.PDI)).striptags()

    def unit(text: str) -> Markup:
        """A unit as chemists write it: kg CO₂e, with its subscript."""
        return Markup(escape(text).replace("CO2", Markup("CO<sub>2</sub>")))

    def and_list(items) -> Markup:
        return Markup(format_list([str(i18n.bdi(item)) for item in items], locale=i18n.format_locale()))

    app.jinja_env.filters.update(
        price=isolated(price), money=money, date=isolated(i18n.person_date),
        datetime=isolated(i18n.person_datetime),
        number=isolated(i18n.number), bdi=i18n.bdi, isolate=i18n.isolate, and_list=and_list,
        text=as_text, unit=unit,
    )
    app.jinja_env.add_extension("jinja2.ext.do")
    i18n.install_template_gettext(app)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    from shop.auth.access import home_for
    from shop.categories import icon as category_icon

    app.jinja_env.globals.update(
        url_for=template_url_for, kept=memo.kept_parts(app), home_for=home_for, flashed_messages=i18n.flashed_messages,
        weekday_name=i18n.weekday_name, time=isolated(i18n.person_time), static_url=static_url,
        language_list=language_list, category_icon=category_icon,
    )

    @app.context_processor
    def inject():
        language = current_language()
        return {
            "lang": language,
            "dir": text_direction(language),
            "languages": app.config["LANGUAGES"],
            "operator": {key: app.config[f"OPERATOR_{key.upper()}"] for key in ("name", "address", "email", "phone")},
        }


def _register_error_pages(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return _error_page(400, "csrf")

    @app.errorhandler(HTTPException)
    def http_error(error):
        code = error.code or 500
        kind = code if code in (400, 403, 404, 405, 410, 413, 429) else "other"
        return _error_page(code, kind)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(error):
        """The database hiccupped (connection lost, lock timeout…): nothing was kept; try again."""
        log.exception("Database error on %s", request.path)
        return _error_page(503, 503)

    @app.errorhandler(Exception)
    def server_error(error):
        log.exception("Unhandled error on %s", request.path)
        return _error_page(500, 500)


def _error_page(code: int, kind):
    """An error page that needs no database: it is also what people see while the database is down.

    Loading the signed-in person for the menu asks the database; if that fails, the page is shown
    as to a visitor instead of failing in turn (a bare "Internal Server Error" in no language).
    """
    rollback_quietly()
    if "_login_user" not in g:
        try:
            current_user._get_current_object()
        except SQLAlchemyError:
            rollback_quietly()
            g._login_user = login_manager.anonymous_user()
    try:
        body = render_template("errors/error.html", code=code, kind=kind)
    except SQLAlchemyError:  # anything else the page would ask the database: show it as to a visitor
        rollback_quietly()
        g._login_user = login_manager.anonymous_user()
        body = render_template("errors/error.html", code=code, kind=kind)
    response = make_response(body, code)
    if code == 503:
        response.headers["Retry-After"] = "30"
    return response


