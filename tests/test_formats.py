"""Dates, times, prices, lists and counts as each language writes them for people."""

import datetime
import re
from pathlib import Path

import pytest
from flask_babel import force_locale

from shop import i18n
from tests import factories
from tests.factories import without_bdi

ROOT = Path(__file__).resolve().parent.parent
EVENING = datetime.datetime(2026, 12, 1, 19, 15, 4, tzinfo=datetime.timezone.utc)  # 20:15:04 in Paris


@pytest.mark.parametrize("language, expected", [
    ("fr", "1er décembre 2026, 20:15"),
    ("en", "1 December 2026, 20:15"),  # as in Britain: day first, 24-hour clock
    ("ar", "1 ديسمبر 2026، 20:15"),
    ("uk", "1 грудня 2026\u202fр., 20:15"),
])
def test_a_date_and_time_for_people_has_no_seconds_no_offset_and_a_24_hour_clock(app, language, expected):
    with app.test_request_context(), force_locale(language):
        shown = i18n.person_datetime(EVENING, "long")
    assert shown == expected
    assert ":04" not in shown and "+01" not in shown and "PM" not in shown and "م" not in shown.split("،")[-1]


@pytest.mark.parametrize("language", ["fr", "en", "ar", "uk"])
def test_prices_carry_the_euro_sign_in_every_language(app, language):
    with app.test_request_context(), force_locale(language):
        assert "€" in i18n.money(8000) and "EUR" not in i18n.money(8000)


def test_lists_are_joined_with_the_languages_own_words_and_each_item_isolated(app):
    with app.test_request_context():
        with force_locale("fr"):
            assert i18n.join_list(["Ordinateur", "Tablette", "Écran"]) == "⁨Ordinateur⁩, ⁨Tablette⁩ et ⁨Écran⁩"
        with force_locale("uk"):
            assert " і " in i18n.join_list(["A", "B"])


def test_the_pickup_deadline_on_a_page_has_no_seconds(client, db):
    point = factories.pickup_point()
    device = factories.device(point=point)
    person = factories.beneficiary()
    code, clear = factories.code(person)
    db.session.commit()
    assert client.post("/reserve", data={"code": clear}).status_code == 303
    response = client.post(f"/reserve/offer/{device.offer_key}", data={"method": "counter"})
    page = without_bdi(client.get(response.headers["Location"], headers={"Accept-Language": "en"}).text)
    deadline = re.search(r"Pick it up before ([^<]+)\.</p>", page).group(1)
    assert re.fullmatch(r"\d{1,2} \w+ \d{4}, \d{2}:\d{2}", deadline), deadline


def test_the_public_impact_tiles_say_one_device_not_one_devices(client, db):
    page = without_bdi(client.get("/impact", headers={"Accept-Language": "en"}).text)
    assert "<strong>0</strong> devices reused" in page
    from shop.services import impact
    figures = impact.public_figures()
    figures.reused = 1
    with client.application.test_request_context(), force_locale("fr"):
        from flask import render_template
        from shop.services.impact_factors import ENVIRONMENT_FACTORS, TYPICAL_NEW_PRICE_CENTS

        html = without_bdi(render_template("impact/public.html", figures=figures, factors=ENVIRONMENT_FACTORS,
                                           new_price=TYPICAL_NEW_PRICE_CENTS))
    assert "<strong>1</strong> appareil réemployé" in html and "appareils" not in html.split("réemployé")[0][-40:]
    assert "CO<sub>2</sub>e" in html


# A count right before a plural noun, in a sentence translated with gettext instead of ngettext,
# reads "1 devices" (and is wrong in every language with other plural rules).
PLURAL_WORD = re.compile(r"^(?:[a-z]+s|people|children)$")
NOT_PLURAL = {"is", "was", "has", "this", "its", "as", "us", "of", "ms"}
UNITS = {"GB", "MB", "kg"}
COUNT_IN_GETTEXT = re.compile(r"""(?<![n\w])(?:_|_l|gettext|lazy_gettext)\(\s*(["'])(?P<msg>(?:(?!\1).)*%\(\w+\)d(?:(?!\1).)*)\1""", re.S)
COUNT_GLUED_TO_TEXT = re.compile(r"\|number \}\}(?:</\w+>)?\s*\{\{ _\(")


def counts_without_plural_forms(text: str) -> list[str]:
    found = []
    for m in COUNT_IN_GETTEXT.finditer(text):
        for after in re.finditer(r"%\(\w+\)d ((?:[\w-]+ ?){1,2})", m.group("msg")):
            words = after.group(1).split()
            if words[0] in UNITS:
                continue
            if any(PLURAL_WORD.match(w) and w not in NOT_PLURAL for w in words):
                found.append(m.group("msg"))
    found += [text[m.start():m.end() + 40] for m in COUNT_GLUED_TO_TEXT.finditer(text)]
    return found


def test_the_plural_check_catches_the_mistakes_it_is_for():
    assert counts_without_plural_forms('_("%(count)d erasure records imported.", count=n)')
    assert counts_without_plural_forms('<strong>{{ n|number }}</strong> {{ _("devices reused") }}')
    assert not counts_without_plural_forms('ngettext("%(num)d device", "%(num)d devices", n)')
    assert not counts_without_plural_forms('_("%(n)d GB RAM", n=8)')


def test_every_count_next_to_a_plural_noun_uses_ngettext():
    problems = []
    for path in sorted([*(ROOT / "shop").rglob("*.py"), *(ROOT / "templates").rglob("*.html")]):
        problems += [f"{path.relative_to(ROOT)}: {found!r}" for found in counts_without_plural_forms(path.read_text())]
    assert not problems, "\n".join(problems)


GLUED_PUNCTUATION = re.compile(r"\}\}(?:</\w+>)?(?:, |: |; )(?:<[^>]+>)?\{\{")


def test_punctuation_between_values_is_inside_the_translated_strings():
    """", " and ": " between two values belong to the sentence: French puts a space before ":",
    Arabic writes "،"; a template that glues them is wrong in some language."""
    assert GLUED_PUNCTUATION.search('<td>{{ a|bdi }}, {{ b|bdi }}</td>')
    problems = [f"{path.relative_to(ROOT)}: {m.group(0)!r}"
                for path in sorted((ROOT / "templates").rglob("*.html"))
                for m in GLUED_PUNCTUATION.finditer(path.read_text())]
    assert not problems, "\n".join(problems)
