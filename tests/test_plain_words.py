"""The pages a person reads speak plainly: none of the shop's own jargon ("eligibility",
"beneficiary", "allocation", "structure") in English or in French."""

import html
import re

import pytest

from tests import factories

JARGON = re.compile(r"eligib\w*|éligib\w*|beneficiar\w*|bénéficiaire\w*|\ballocation\b(?! (de|aux) )|structures?\b",
                    re.IGNORECASE)  # "allocation de solidarité…" is the French name of a benefit


def main_text(response) -> str:
    """The sentences of the page's <main>: tags removed, and isolated values (names) left out."""
    body = response.get_data(as_text=True)
    main = re.sub(r"(?s)<bdi\b[^>]*>.*?</bdi>", " ", body[body.index("<main"):body.index("</main>")])
    return html.unescape(re.sub(r"<[^>]+>", " ", main))


@pytest.mark.parametrize("language", ["en", "fr"])
def test_pages_a_person_reads_have_no_jargon(client, db, language):
    point = factories.pickup_point()
    device = factories.device(point=point)
    _code, clear = factories.code()
    db.session.commit()
    headers = {"Accept-Language": language}
    pages = ["/", "/catalog", f"/offer/{device.offer_key}", "/how-it-works", "/pickup-points",
             "/where-to-get-a-code", "/privacy", "/accessibility", "/reserve"]
    for path in pages:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        found = JARGON.search(main_text(response))
        assert found is None, (path, found and found.group(0))
    assert client.post("/reserve", data={"code": clear}, headers=headers).status_code in (302, 303)
    for path in ["/reserve/me", f"/reserve/offer/{device.offer_key}"]:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        found = JARGON.search(main_text(response))
        assert found is None, (path, found and found.group(0))
