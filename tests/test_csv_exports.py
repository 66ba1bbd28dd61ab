"""CSV exports open in columns in the reader's spreadsheet: `;` and decimal commas where the
language writes decimals with a comma (French…), translated headers, UTF-8 with a BOM."""

import csv
import io
import re
from decimal import Decimal

from shop.models import Role
from shop.services import audit
from shop.services.csvfile import conventions, to_csv
from tests import factories
from tests.test_impact import scenario  # noqa: F401 (fixture)
from tests.test_partner_portal import issued, person_of, world  # noqa: F401 (fixture)

FR = {"Accept-Language": "fr"}


def _rows(response, delimiter):
    body = response.data.decode("utf-8")
    assert body.startswith("\ufeff")  # the BOM: accents stay intact in a spreadsheet
    return list(csv.reader(io.StringIO(body[1:]), delimiter=delimiter))


def test_french_numbers_take_a_comma_and_cells_a_semicolon_english_the_other_way():
    rows = [["Lenovo, ThinkPad", Decimal("12.50"), 1.5, 3, "=1+1", -2]]
    french = to_csv(["Prix", "Total"], rows, locale="fr")
    assert french == "Prix;Total\r\nLenovo, ThinkPad;12,50;1,5;3;'=1+1;-2\r\n"
    english = to_csv(["Price", "Total"], rows, locale="en")
    assert english == 'Price,Total\r\n"Lenovo, ThinkPad",12.50,1.5,3,\'=1+1,-2\r\n'
    assert {lang: conventions(lang) for lang in ("ru", "uk", "tr", "ro", "ar", "fa")} == {
        "ru": (";", ","), "uk": (";", ","), "tr": (";", ","), "ro": (";", ","), "ar": (",", "."), "fa": (",", ".")}


def test_the_donor_report_in_french_has_french_headers_and_decimal_commas(client, db, scenario):  # noqa: F811
    admin = factories.user(Role.ADMIN)
    db.session.commit()
    factories.sign_in(client, admin.email)
    response = client.get(f"/admin/donors/{scenario['a'].id}/report?format=csv", headers=FR)
    rows = _rows(response, ";")
    assert rows[0] == ["Rubrique", "Élément", "Valeur", "Unité", "Détails"]
    (money,) = [row for row in rows if row[0] == "money"]
    assert re.fullmatch(r"\d+,\d\d", money[2]) and money[3] == "EUR"
    impacts = [row for row in rows if row[0] == "impact"]
    assert impacts and all("." not in row[2] for row in impacts)
    dashboard = _rows(client.get("/admin/impact?format=csv", headers=FR), ";")
    assert dashboard[0] == ["Rubrique", "Élément", "Mesure", "Valeur"]
    assert re.fullmatch(r"\d+,\d\d", next(row for row in dashboard if row[0] == "money")[3])


def test_the_partner_export_in_french(client, db, world):  # noqa: F811
    issued(person_of(world.worker_a, "Amina"), world.worker_a)
    factories.signed_in(client, world.worker_a, lang="fr")
    rows = _rows(client.get("/partner/export.csv"), ";")
    assert rows[0][:3] == ["Personne", "Nom", "Année de naissance"] and len(rows[0]) == 13
    assert rows[1][1] == "Amina"


def test_the_audit_export_in_french_and_in_english(client, db):
    admin = factories.user(Role.ADMIN)
    audit.record(admin, "code.revoke", None, reason="=HYPERLINK(\"http://evil\")")
    db.session.commit()
    factories.sign_in(client, admin.email)
    french = _rows(client.get("/admin/audit.csv", headers=FR), ";")
    assert french[0] == ["Entrée", "Quand", "Qui", "Structure", "Action", "Ce qui s’est passé", "Concerne",
                         "Référence", "Détails"]
    english = _rows(client.get("/admin/audit.csv", headers={"Accept-Language": "en"}), ",")
    assert english[0][0] == "Entry" and len(english[0]) == 9
    assert not any(cell.startswith("=") for row in french + english for cell in row)
