"""Forms as GOV.UK does them: every field checked in one round, an error summary whose items link
to their fields, and a page title that starts with "Error:"."""

import re

import sqlalchemy as sa

from shop.models import Beneficiary
from tests import factories
from tests.test_partner_portal import REGISTRATION, world  # noqa: F401 (fixture)

EN = {"Accept-Language": "en"}


def test_every_field_is_checked_in_one_round_and_each_error_links_to_its_field(client, db, world):
    factories.signed_in(client, world.worker_a, lang="en")
    typed = {**REGISTRATION, "display_name": "", "birth_year": "85", "ground": "other", "justification": ""}
    page = client.post("/partner/beneficiaries/new", data=typed, headers=EN).text

    assert db.session.scalar(sa.select(sa.func.count(Beneficiary.id))) == 0
    summary = page.split('<div class="error-summary"', 1)[1].split("</div>", 1)[0]
    links = dict((target, text) for target, text in re.findall(r'<a href="#([\w-]+)">([^<]+)</a>', summary))
    # The year "85" fails together with the other fields, not once they are fixed.
    assert set(links) == {"display_name", "birth_year", "justification"}
    assert "between 1900 and" in links["birth_year"]
    for target in links:
        assert f'id="{target}"' in page  # each link leads to its field
    assert re.search(r"<title>Error: [^<]+</title>", page)
    assert 'value="85"' in page and 'value="amina@example.net"' in page  # what was typed is kept


def test_a_page_without_errors_has_a_plain_title(client, db, world):
    factories.signed_in(client, world.worker_a, lang="en")
    page = client.get("/partner/beneficiaries/new", headers=EN).text
    assert "<title>Error" not in page and "error-summary" not in page


def test_the_error_title_is_translated(client, db):
    page = client.post("/reserve", data={"code": ""}, headers={"Accept-Language": "fr"}).text
    assert re.search(r"<title>Erreur : [^<]+</title>", page)
    assert '<a href="#code">' in page
