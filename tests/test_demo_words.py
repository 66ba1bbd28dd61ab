"""The demo speaks the reader's language: on its French and Arabic pages, the only words in another
language are what the maker or the place writes (brand, model, processor, system, pickup point)."""

import html
import re

import sqlalchemy as sa
from flask_babel import force_locale

from shop.demo import MODELS, PICKUP_POINTS, seed_demo
from shop.models import Device, DeviceStatus, DonationBatch, Donor, Role
from shop.models.stock import RecyclingReason
from tests import factories

# Words that give away an English sentence; none of them is French.
ENGLISH = re.compile(r"\b(the|and|with|for|your|you|this|keyboard|mouse|broken|damaged|beyond|repair|too old|"
                     r"available|reserve|condition|battery|details|pick it up)\b", re.IGNORECASE)


def main_text(response) -> str:
    """The visible text of the page's <main>, tags removed."""
    body = response.get_data(as_text=True)
    main = body[body.index("<main"):body.index("</main>")]
    return html.unescape(re.sub(r"<[^>]+>", " ", main))


def demo_words() -> set[str]:
    """Every Latin-script word the demo's makers and places write themselves, and grades and units."""
    words = set()
    for _category, brand, model, cpu, _ram, _storage, _screen, os_name, *_ in MODELS:
        for value in (brand, model, cpu, os_name):
            words.update(re.findall(r"[A-Za-zÀ-ÿ]+", value or ""))
    for point in PICKUP_POINTS:
        for key in ("name", "address", "town"):
            words.update(re.findall(r"[A-Za-zÀ-ÿ]+", point[key]))
    return words | {"A", "B", "C", "RAM", "GB", "AZERTY", "QWERTY"}  # grades, units, layouts, written so in every language


def test_demo_offer_pages_in_french_and_arabic_show_no_english_sentence(client, db):
    seed_demo(device_count=len(MODELS))
    keys = sorted(set(db.session.scalars(sa.select(Device.offer_key).where(Device.status == DeviceStatus.LISTED))))
    assert len(keys) >= 10
    allowed = demo_words()
    for key in keys:
        for language in ("fr", "ar"):
            response = client.get(f"/offer/{key}", headers={"Accept-Language": language})
            assert response.status_code == 200
            text = main_text(response)
            assert not ENGLISH.search(text), (language, key, ENGLISH.search(text).group(0), text)
            if language == "ar":
                latin = set(re.findall(r"[A-Za-zÀ-ÿ]+", text)) - allowed
                assert not latin, (key, latin)


def test_demo_recycling_reasons_show_in_the_readers_language(client, db):
    seed_demo()
    notes = set(db.session.scalars(sa.text(
        "SELECT note FROM device_events WHERE to_status = 'recycled' AND note IS NOT NULL")))
    assert notes and notes <= {reason.value for reason in RecyclingReason}
    donor = db.session.scalar(sa.select(Donor).join(DonationBatch).join(Device).where(Device.status == DeviceStatus.RECYCLED))
    admin = factories.user(Role.ADMIN)
    assert factories.sign_in(client, admin.email, "correct horse battery staple").status_code == 303
    english = {str(RecyclingReason(note).label) for note in notes}
    for language in ("fr", "ar"):
        page = client.get(f"/admin/donors/{donor.id}/report", headers={"Accept-Language": language})
        assert page.status_code == 200
        text = main_text(page)
        assert not any(reason in text for reason in english), language
        assert not any(note in text for note in notes), language
    with force_locale("fr"):
        in_french = {str(RecyclingReason(note).label) for note in notes}
    french = main_text(client.get(f"/admin/donors/{donor.id}/report", headers={"Accept-Language": "fr"}))
    assert in_french.isdisjoint(english) and all(reason in french for reason in in_french)
