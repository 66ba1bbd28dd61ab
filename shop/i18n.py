"""Language choice: explicit pick (cookie), else the browser's wish, else French."""

import datetime
from decimal import Decimal

from babel import Locale, dates, lists, numbers
from babel.lists import format_list
from babel import support
from flask import current_app, g, get_flashed_messages, has_request_context, request, session
from flask_babel import get_locale, get_translations, to_user_timezone
from jinja2 import pass_eval_context
from markupsafe import Markup, escape
from wtforms.i18n import messages_path

LANG_COOKIE = "lang"
RTL_LANGUAGES = {"ar", "fa", "he", "ps", "ur"}


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in languages:
        return chosen
    # The browser's wish, parsed once per distinct Accept-Language header (a few hundred at most).
    header = request.headers.get("Accept-Language", "")
    known = current_app.extensions.setdefault("locale_by_accept_language", {})
    best = known.get(header)
    if best is None:
        best = request.accept_languages.best_match(list(languages)) or current_app.config["BABEL_DEFAULT_LOCALE"]
        if len(known) < 2000:
            known[header] = best
    return best


_wtforms_catalogs: dict[str, support.Translations] = {}


def wtforms_translations(language: str):
    """WTForms' own messages in a language, read from its catalogue once per process (Flask-WTF
    reads the file again on every request that needs one; it never changes while we run)."""
    catalog = _wtforms_catalogs.get(language)
    if catalog is None:
        catalog = _wtforms_catalogs[language] = support.Translations.load(messages_path(), [language], domain="wtforms")
    return catalog


def current_language() -> str:
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


def text_direction(language: str | None = None) -> str:
    return "rtl" if (language or current_language()).split("_")[0] in RTL_LANGUAGES else "ltr"


def language_list() -> Markup:
    """Every language of the shop in its own name, joined as the reader's language joins a list;
    each name carries its own lang (WCAG 3.1.2) and is isolated so scripts do not reorder."""
    names = [str(Markup('<bdi lang="{0}">{1}</bdi>').format(code, name))
             for code, name in current_app.config["LANGUAGES"].items()]
    # The separators come from Babel's locale data: plain text, no markup.
    return Markup(format_list(names, locale=format_locale()))


# --- Formats and bidirectional isolation -------------------------------------------------------
#
# People read dates, times, prices and counts in their own locale's form, without seconds or
# offsets, on a 24-hour clock (English as in Britain: the shop is in Europe). Every value put into
# a sentence is isolated, so that an address, a code or a model that runs left to right keeps its
# order inside an Arabic sentence (and an Arabic name inside a French one): `<bdi>` in HTML,
# FSI…PDI (Unicode's first-strong isolate) in plain text.

FORMAT_LOCALES = {"en": "en_GB"}
FSI, PDI = "\u2068", "\u2069"
TIME_PATTERN = "HH:mm"


def format_locale(language: str | None = None) -> Locale:
    language = language or current_language()
    return Locale.parse(FORMAT_LOCALES.get(language, language))


def _local(value):
    if isinstance(value, datetime.datetime):
        return to_user_timezone(value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc))
    return value


def person_date(value, length: str = "medium", language: str | None = None) -> str:
    """A date as the locale writes it ("1 déc. 2026"; "long": "1 décembre 2026")."""
    locale = format_locale(language)
    value = _local(value)
    if isinstance(value, datetime.datetime):
        value = value.date()
    text = dates.format_date(value, length, locale=locale)
    if locale.language == "fr" and value.day == 1 and length in ("long", "full") and text.startswith("1 "):
        text = "1er" + text[1:]  # French writes the first of the month as an ordinal: 1er mars
    return text


_times: dict[tuple, str] = {}  # opening hours: the same few times of day on every offer page


def person_time(value, language: str | None = None) -> str:
    """A time of day on the 24-hour clock, without seconds ("20:15")."""
    if type(value) is datetime.time and value.tzinfo is None:  # a time of day: no zone to convert
        key = (language or current_language(), value)
        text = _times.get(key)
        if text is None:
            if len(_times) > 5000:
                _times.clear()
            text = _times[key] = dates.format_time(value, TIME_PATTERN, locale=format_locale(key[0]))
        return text
    value = _local(value)
    return dates.format_time(value, TIME_PATTERN, locale=format_locale(language))


def person_datetime(value, length: str = "medium", language: str | None = None) -> str:
    """A date and a time, joined as the locale joins them, without seconds or offset."""
    locale = format_locale(language)
    joined = dates.get_datetime_format(length, locale=locale).replace("'", "")
    return joined.replace("{0}", person_time(value, language)).replace("{1}", person_date(value, length, language))


def money(cents: int, language: str | None = None) -> str:
    """A price with the € sign in every language (CLDR writes "EUR" in some, Ukrainian for one)."""
    text = numbers.format_currency(Decimal(cents) / 100, "EUR", locale=format_locale(language))
    return text.replace("EUR", "€")


def number(value, language: str | None = None) -> str:
    return numbers.format_decimal(value, locale=format_locale(language))


def join_list(items, language: str | None = None) -> str:
    """Items joined with the locale's own separators ("A, B et C"), each isolated."""
    return lists.format_list([isolate(item) for item in items], locale=format_locale(language))


def isolate(value) -> str:
    """A value isolated for plain text: FSI…PDI keeps its direction inside any sentence."""
    return f"{FSI}{value}{PDI}"


def bdi(value) -> Markup:
    """A value isolated for HTML (what `Markup("<bdi>{}</bdi>").format(value)` gives, at a quarter
    of its cost: a catalog page isolates some 70 values)."""
    return Markup("<bdi>" + str(escape(value)) + "</bdi>")


# --- Flash messages know their language ---------------------------------------------------------
# A message is written in the language of the request that made it, and may be shown on a page in
# another (the person switched language in between): each one carries its own `lang` (WCAG 3.1.2).

FLASH_LANGUAGES = "_flash_langs"


def remember_flash_language(sender, message, category, **extra) -> None:
    session[FLASH_LANGUAGES] = [*session.get(FLASH_LANGUAGES, []), current_language()]


def flashed_messages() -> list[tuple[str, str, str, str]]:
    """(category, message, lang, dir) of each message waiting to be shown."""
    messages = get_flashed_messages(with_categories=True)
    if not messages:
        return []
    languages = session.pop(FLASH_LANGUAGES, [])
    if len(languages) != len(messages):  # flashed before languages were recorded
        languages = [current_language()] * len(messages)
    return [(category, message, lang, text_direction(lang)) for (category, message), lang in zip(messages, languages)]


def weekday_name(weekday: int) -> str:
    """Monday is 0, in the current language."""
    return dates.get_day_names("wide", locale=get_locale())[weekday]


# --- Gettext in templates -----------------------------------------------------------------------
# Flask-Babel's template `_` finds the request's translations through about ten context look-ups
# for each string (a catalog page has some fifty). The same translations by the request's locale
# object: one look-up of `g`, then a dict. `force_locale` and `refresh` change that locale object,
# so they keep working; outside a request it falls back on Flask-Babel.

def install_template_gettext(app) -> None:
    by_locale: dict = {}  # one app's translations (its BABEL_TRANSLATION_DIRECTORIES), per locale

    def current_locale():
        try:
            return g._get_current_object()._flask_babel.babel_locale
        except (RuntimeError, AttributeError):  # no app context, or no locale chosen yet
            return None

    def translations(locale=None):
        locale = locale or current_locale()
        if locale is None:
            return get_translations()
        found = by_locale.get(locale)
        if found is None:
            found = by_locale[locale] = get_translations()
        return found

    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )

    # `_()`, as Jinja's new-style gettext does it (escaped values, "%%" read as "%"), without its
    # two context calls; a string without values is finished once per language and escaping.
    finished: dict = {}  # (locale, autoescape) -> {msgid: text}

    @pass_eval_context
    def underscore(eval_ctx, string, **variables):
        locale = current_locale()
        if variables or locale is None:  # values, or no app context: nothing to keep
            text = translations(locale).ugettext(string)
            return (Markup(text) if eval_ctx.autoescape else text) % variables
        done = finished.setdefault((locale, eval_ctx.autoescape), {})
        text = done.get(string)
        if text is None:
            text = translations(locale).ugettext(string)
            text = (Markup(text) if eval_ctx.autoescape else text) % {}
            if len(done) < 10_000:  # the templates' strings; a bound all the same
                done[string] = text
        return text

    app.jinja_env.globals["_"] = underscore
