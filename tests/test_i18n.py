import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG_LANGUAGES = ("fr", "ar", "uk", "fa", "ps", "tr", "ro", "ru")


def test_french_is_the_default(client):
    page = client.get("/").text
    assert '<html lang="fr" dir="ltr">' in page


def test_browser_language_is_used_when_nothing_was_chosen(client):
    page = client.get("/", headers={"Accept-Language": "uk-UA,uk;q=0.9,en;q=0.5"}).text
    assert '<html lang="uk" dir="ltr">' in page


def test_unknown_browser_language_falls_back_to_french(client):
    page = client.get("/", headers={"Accept-Language": "tlh, xx;q=0.5"}).text
    assert 'lang="fr"' in page


def test_explicit_choice_is_remembered_and_beats_the_browser(client):
    response = client.get("/language/ar?next=/catalog")
    assert response.status_code == 303
    assert response.headers["Location"] == "/catalog"
    page = client.get("/catalog", headers={"Accept-Language": "en"}).text
    assert '<html lang="ar" dir="rtl">' in page


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"])
def test_language_switch_never_redirects_off_site(client, target):
    response = client.get("/language/en", query_string={"next": target})
    assert response.headers["Location"] == "/"


def test_unknown_language_code_is_a_404_in_the_current_language(client):
    response = client.get("/language/xx", headers={"Accept-Language": "uk"})
    assert response.status_code == 404
    assert 'lang="uk"' in response.text


def test_picker_shows_each_language_in_its_own_name(client):
    page = client.get("/").text
    for code, name in (("fr", "Français"), ("en", "English"), ("ar", "العربية"), ("uk", "Українська"),
                       ("fa", "دری"), ("ps", "پښتو"),
                       ("tr", "Türkçe"), ("ro", "Română"), ("ru", "Русский")):
        assert re.search(rf'lang="{code}" hreflang="{code}"[^>]*>{name}</a>', page)


def test_accessibility_statement_lists_every_language_in_its_own_name(app, client):
    page = client.get("/accessibility", headers={"Accept-Language": "en"}).text
    for code, name in app.config["LANGUAGES"].items():
        assert f'<li lang="{code}" dir="auto">{name}</li>' in page


@pytest.mark.parametrize("language", CATALOG_LANGUAGES)
def test_pages_are_translated(client, db, language):
    english = client.get("/how-it-works", headers={"Accept-Language": "en"}).text
    translated = client.get("/how-it-works", headers={"Accept-Language": language}).text
    assert "How it works" in english
    assert "How it works" not in translated
    assert "1. Get a code from a social worker" not in translated


def _extracted_messages(tmp_path) -> set[str]:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_ngettext:1,2",
         "-k", "lazy_gettext", "--ignore-dirs=.* __pycache__", "--no-location", "-o", str(pot),
         "shop", "templates"],
        cwd=ROOT, check=True, capture_output=True,
    )
    with pot.open("rb") as f:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    return _extracted_messages(tmp_path_factory.mktemp("pot"))


@pytest.mark.parametrize("language", CATALOG_LANGUAGES)
def test_catalog_is_complete_and_not_fuzzy(extracted, language):
    with (ROOT / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    problems = []
    ids = set()
    for message in catalog:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        ids.add(key)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {key!r}")
        elif not all(strings):
            problems.append(f"untranslated: {key!r}")
        elif message.python_format and not message.check(catalog) == []:
            problems.append(f"bad placeholders: {key!r}")
    missing = extracted - ids
    problems += [f"missing from catalog: {m!r}" for m in sorted(missing)]
    assert not problems, "\n".join(problems)


PLURAL_SAMPLES = [*range(0, 1200), 1_000_000, 1_000_001, 2_000_000]
CLDR_ORDER = ("zero", "one", "two", "few", "many", "other")


@pytest.mark.parametrize("language", CATALOG_LANGUAGES)
def test_plural_forms_header_agrees_with_cldr(language):
    """The catalog's gettext rule picks, for every whole number, the form of the CLDR category
    (Babel's locale data) it belongs to, forms numbered in CLDR's order."""
    import gettext
    from babel import Locale

    with (ROOT / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    rule = Locale.parse(language).plural_form
    categories = [rule(n) for n in PLURAL_SAMPLES]
    used = [tag for tag in CLDR_ORDER if tag in set(categories)]
    assert catalog.num_plurals == len(used)
    choose = gettext.c2py(catalog.plural_expr)
    assert [choose(n) for n in PLURAL_SAMPLES] == [used.index(c) for c in categories]


@pytest.mark.parametrize("language", ["fa", "ps"])
def test_right_to_left_languages_get_rtl_pages(client, language):
    page = client.get("/", headers={"Accept-Language": language}).text
    assert f'<html lang="{language}" dir="rtl">' in page


def test_accessibility_statement_lists_every_language_in_its_own_name(client, app):
    page = client.get("/accessibility", headers={"Accept-Language": "ps"}).text
    for code, name in app.config["LANGUAGES"].items():
        assert f'<bdi lang="{code}">{name}</bdi>' in page
    assert "Ukrainian" not in page


def test_template_underscore_keeps_jinja_new_style_gettext_semantics(app):
    """`_()` in templates is the shop's own (shop/i18n.py): a string without values is kept once
    per language and escaping; the result must be what Jinja's new-style gettext gives."""
    from flask import render_template_string
    from flask_babel import force_locale

    page = ('{{ _("Please enter your code first.") }}|{{ _("100%%") }}|'
            '{{ _("Battery: %(pct)d%% of its original capacity.", pct=80) }}|{{ _("%(x)s", x="<b>") }}')
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        first = render_template_string(page)
        again = render_template_string(page)  # from what was kept
        with force_locale("en"):
            english = render_template_string(page)
        with force_locale("ar"):
            arabic = render_template_string('{{ _("Please enter your code first.") }}')
        text = app.jinja_env.from_string(
            '{% autoescape false %}{{ _("%(x)s", x="<b>") }}|{{ _("100%%") }}{% endautoescape %}').render()  # no escaping
    assert first == again == "Entrez d’abord votre code.|100%|Batterie\u00a0: 80\u00a0% de sa capacité d’origine.|&lt;b&gt;"
    assert english == "Please enter your code first.|100%|Battery: 80% of its original capacity.|&lt;b&gt;"
    assert arabic not in ("", "Please enter your code first.", "Entrez d’abord votre code.")
    assert text == "<b>|100%"
