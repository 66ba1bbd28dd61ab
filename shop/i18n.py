"""Language choice: explicit pick (cookie), else the browser's wish, else French."""

from babel.lists import format_list
from flask import current_app, has_request_context, request
from flask_babel import get_locale
from markupsafe import Markup

LANG_COOKIE = "lang"
RTL_LANGUAGES = {"ar", "fa", "he", "ps", "ur"}


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(list(languages)) or current_app.config["BABEL_DEFAULT_LOCALE"]


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
    return Markup(format_list(names, locale=current_language()))
