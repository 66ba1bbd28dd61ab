"""Donor reports, the impact dashboard and the public figures: totals that reconcile with the
tables, a donor sees only its own batches through its secret link, no personal data in any
report, and a constant number of queries whatever the number of devices."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from markupsafe import escape
import sqlalchemy as sa

from shop.models import (
    Category, Device, DeviceStatus, DonorShareLink, PaymentChannel, PaymentMethod, Reservation, ReservationStatus, Role,
)
from shop.models.types import utcnow
from shop.services import devices, donations, impact, reservations
from shop.services.impact_factors import CO2E_AVOIDED_KG, E_WASTE_AVOIDED_KG, TYPICAL_NEW_PRICE_CENTS
from tests import factories
from tests.factories import without_bdi

PARIS = ZoneInfo("Europe/Paris")

S = DeviceStatus
EN = {"Accept-Language": "en"}
# Distinctive personal data that must never appear in a report.
NAME, PHONE, EMAIL, BIRTH_YEAR = "Zoltana Quixbeck", "+33 6 71 82 93 04", "zoltana.quixbeck@example.org", 1931



def sell(device, person, staff, categories=("computer",)):
    code, _ = factories.code(person, categories=categories)
    reservation = reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER)
    assert reservation.device_id == device.id
    reservations.hand_over(reservation, actor=staff, channel=PaymentChannel.CASH)
    return reservation


@pytest.fixture
def scenario(db):
    """Two donors. Donor A: batch A1 (declared 7) and A2 (declared 2); donor B: batch B1."""
    point = factories.pickup_point()
    staff = factories.user(Role.STAFF, pickup_point_id=point.id)
    a1 = factories.batch(public=True, reference="A1", declared_count=7)
    a2 = factories.batch(donor=a1.donor, reference="A2", declared_count=2)
    b1 = factories.batch(public=False, reference="B1", declared_count=1)
    worker = factories.user(Role.SOCIAL_WORKER)
    people = [factories.beneficiary(worker, display_name=NAME, phone=PHONE, email=EMAIL, birth_year=BIRTH_YEAR),
              factories.beneficiary(worker, display_name="Person Two", birth_year=1990)]

    def make(batch, n, **kw):
        return factories.device(point=point, batch_id=batch.id, model=f"{batch.reference}-{n}", **kw)

    sold_laptop = make(a1, 1, price_cents=9000)
    sold_laptop2 = make(a1, 2, price_cents=11000)
    sold_phone = make(a1, 3, category=Category.SMARTPHONE, price_cents=8000)
    make(a1, 4)  # listed
    recycled = make(a1, 5, status=S.RECEIVED)
    devices.transition(recycled.id, S.RECEIVED, S.RECYCLED, note="Broken motherboard")
    make(a1, 6, status=S.RECEIVED)  # no erasure yet
    make(a2, 1, category=Category.TABLET, status=S.REFURBISHED, price_cents=6000)
    b_laptop = make(b1, 1)
    sell(sold_laptop, people[0], staff)
    sell(sold_phone, people[0], staff, categories=("smartphone",))
    sell(sold_laptop2, people[1], staff)
    sell(b_laptop, factories.beneficiary(worker, display_name="Person Three", birth_year=1970), staff)
    db.session.commit()
    return {"a": a1.donor, "b": b1.donor, "a1": a1, "a2": a2, "b1": b1, "staff": staff}


def test_donor_report_totals_reconcile_with_the_tables(db, scenario):
    donor = scenario["a"]
    report = impact.donor_report(donor)
    batch_ids = [scenario["a1"].id, scenario["a2"].id]
    in_batches = Device.batch_id.in_(batch_ids)

    def devices_where(*conditions):
        return db.session.scalar(sa.select(sa.func.count(Device.id)).where(in_batches, *conditions))

    assert report.declared == 9 and report.received == devices_where() == 7 and report.difference == -2
    assert report.sold == devices_where(Device.status == S.SOLD) == 3
    assert report.recycled == devices_where(Device.status == S.RECYCLED) == 1
    assert report.in_stock == devices_where(Device.status.in_(impact.IN_STOCK)) == 3
    assert report.refurbished == devices_where(Device.status.in_(impact.REFURBISHED_OR_LATER)) == 5
    assert report.erased == 5 and len(report.certificates) == 5
    assert report.recycled_reasons == [("Broken motherboard", 1)]
    picked_up = (sa.select(Reservation).join(Device, Device.id == Reservation.device_id)
                 .where(in_batches, Reservation.status == ReservationStatus.PICKED_UP).subquery())
    assert report.people_equipped == db.session.scalar(sa.select(sa.func.count(sa.distinct(picked_up.c.beneficiary_id)))) == 2
    paid = db.session.scalar(sa.select(sa.func.sum(picked_up.c.amount_cents)))
    assert report.paid_cents == paid == 28000
    new = TYPICAL_NEW_PRICE_CENTS.per_device
    assert report.money_saved_cents == 2 * new[Category.LAPTOP] + new[Category.SMARTPHONE] - paid
    co2 = next(line for line in report.impacts if line.factor is CO2E_AVOIDED_KG)
    assert co2.value == pytest.approx(2 * 27.0 + 24.6) and co2.not_counted == 0
    assert report.people_equipped_is_small
    # One batch only.
    a2 = impact.donor_report(donor, scenario["a2"].id)
    assert (a2.received, a2.declared, a2.refurbished, a2.sold) == (1, 2, 1, 0)


def test_a_batch_of_another_donor_is_not_found(db, scenario):
    from shop.services.errors import NotFound

    with pytest.raises(NotFound):
        impact.donor_report(scenario["a"], scenario["b1"].id)


def test_dashboard_and_public_figures_reconcile(db, scenario):
    today = utcnow().astimezone(PARIS).date()  # the dashboard counts days in Paris (after 23:00 UTC: tomorrow)
    dash = impact.dashboard(impact.date_range(today - timedelta(days=30), today))
    assert dash.handed_over == 4 == db.session.scalar(
        sa.select(sa.func.count(Reservation.id)).where(Reservation.status == ReservationStatus.PICKED_UP))
    assert {c.category: c.sold for c in dash.categories if c.sold} == {Category.LAPTOP: 3, Category.SMARTPHONE: 1}
    assert sum(p.handed_over for p in dash.points) == 4
    assert sum(p.issued for p in dash.partners) == 4 and sum(p.used for p in dash.partners) == 4
    assert sum(g.people_equipped for g in dash.grounds) == 3
    figures = impact.public_figures()
    assert (figures.reused, figures.people_equipped) == (4, 3)
    e_waste = next(line for line in figures.impacts if line.factor is E_WASTE_AVOIDED_KG)
    assert e_waste.value == pytest.approx(3 * 1.58 + 0.19, abs=0.05)


@pytest.mark.parametrize("start, end, message", [
    ("2026-05-01", "2026-04-01", "The end date is before the start date."),
    ("2010-01-01", "2026-01-01", "Choose a period of 5 years at most."),
    ("2026-13-01", "", "Not a valid date value."),
])
def test_invalid_dashboard_ranges_get_a_clear_message_and_no_figures(client, db, start, end, message):
    factories.signed_in(client, factories.user(Role.ADMIN))
    response = client.get("/admin/impact", query_string={"start": start, "end": end}, headers=EN)
    assert response.status_code == 422
    assert message in response.text and "Per month" not in response.text


def test_admin_report_pages_and_csv_hold_no_personal_data(client, db, scenario):
    factories.signed_in(client, factories.user(Role.ADMIN))
    donor = scenario["a"]
    pages = [
        client.get(f"/admin/donors/{donor.id}/report", headers=EN),
        client.get(f"/admin/donors/{donor.id}/report?format=print", headers=EN),
        client.get(f"/admin/donors/{donor.id}/report?format=csv", headers=EN),
        client.get(f"/admin/donors/{donor.id}/report?batch={scenario['a1'].id}&format=csv", headers=EN),
        client.get("/admin/impact", headers=EN),
        client.get("/admin/impact?format=csv", headers=EN),
        client.get("/impact", headers=EN),
    ]
    for response in pages:
        assert response.status_code == 200, response.request.url
        text = response.get_data(as_text=True)
        for secret in (NAME, "Quixbeck", "Person Two", PHONE, "+33671829304", "671829304", EMAIL, str(BIRTH_YEAR)):
            assert secret not in text, (response.request.url, secret)
    page, printable, csv = without_bdi(pages[0].text), without_bdi(pages[1].text), pages[2].get_data(as_text=True)
    assert "fewer than 5" in page and "fewer than 5" in csv
    assert "Broken motherboard" in page and "Broken motherboard" in csv
    assert str(escape(CO2E_AVOIDED_KG.source)) in page and "(2022)" in page
    assert "CERT-" in printable and 'id="print-slip"' in printable and 'class="subnav"' not in printable
    assert csv.startswith("\ufeffSection,Item,Value,Unit,Details")
    assert pages[2].headers["Content-Disposition"].startswith("attachment;")
    assert pages[0].headers["Cache-Control"] == "no-store"


def test_share_link_shows_only_the_donors_own_report(client, db, scenario):
    admin = factories.user(Role.ADMIN)
    token = donations.create_share_link(scenario["a"], actor=admin)
    other = donations.create_share_link(scenario["b"], actor=admin)
    db.session.commit()
    stored = db.session.scalars(sa.select(DonorShareLink.token_hash)).all()
    assert token not in stored and donations.hash_token(token) in stored  # only a hash is kept

    page = client.get(f"/donor-report/{token}", headers=EN)
    text = page.text.replace(token, "")  # the random token (in the language links) may contain "B1"
    assert page.status_code == 200 and scenario["a"].name in text
    assert "A1" in text and "A2" in text and "B1" not in text and scenario["b"].name not in text
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Robots-Tag"] == "noindex"
    assert client.get(f"/donor-report/{token}?batch={scenario['a2'].id}").status_code == 200
    assert client.get(f"/donor-report/{token}?format=csv").status_code == 200
    assert client.get(f"/donor-report/{token}?format=print").status_code == 200
    # Another donor's batch through this link, or a batch that does not exist: not found.
    for batch in (scenario["b1"].id, 999999, "abc"):
        response = client.get(f"/donor-report/{token}?batch={batch}", headers=EN)
        assert response.status_code == 404 and "Page not found" in response.text
        text = response.text.replace(token, "")
        assert "B1" not in text and scenario["b"].name not in text
    assert client.get(f"/donor-report/{token}?format=xml").status_code == 404
    assert client.get(f"/donor-report/{other}?batch={scenario['b1'].id}").status_code == 200
    # The admin navigation is not shown to the donor.
    assert "/admin/" not in page.text


def test_revoked_or_unknown_share_link_is_a_404(client, db, scenario):
    admin = factories.user(Role.ADMIN)
    token = donations.create_share_link(scenario["a"], actor=admin)
    db.session.commit()
    assert client.get(f"/donor-report/{token}").status_code == 200
    factories.signed_in(client, admin)
    assert client.post(f"/admin/donors/{scenario['a'].id}/share-link/revoke").status_code == 303
    client.post("/logout")
    response = client.get(f"/donor-report/{token}", headers=EN)
    assert response.status_code == 404 and "Page not found" in response.text and scenario["a"].name not in response.text
    assert client.get("/donor-report/" + "x" * 43).status_code == 404
    assert client.get("/donor-report/" + "x" * 300).status_code == 404


def test_admin_creates_replaces_and_shows_the_link_once(client, db, scenario):
    factories.signed_in(client, factories.user(Role.ADMIN))
    donor_id = scenario["a"].id
    first = client.post(f"/admin/donors/{donor_id}/share-link", headers=EN)
    assert first.status_code == 200 and "shown only once" in first.text
    first_url = first.text.split('class="share-link" dir="ltr"><a href="')[1].split('"')[0]
    assert first_url.split("/donor-report/")[1] not in client.get(f"/admin/donors/{donor_id}").text
    second = client.post(f"/admin/donors/{donor_id}/share-link")
    second_url = second.text.split('class="share-link" dir="ltr"><a href="')[1].split('"')[0]
    client.post("/logout")
    assert client.get(first_url).status_code == 404  # replaced: the old link stops working
    assert client.get(second_url).status_code == 200


def _bulk_devices(point_id: int, batch_id: int, count: int) -> None:
    """Many devices in every status, inserted in one statement (no erasure, event or reservation rows)."""
    now = utcnow()
    statuses = [S.RECEIVED, S.ERASED, S.REFURBISHED, S.LISTED, S.WITHDRAWN, S.RECYCLED]
    categories = list(Category)
    rows = [dict(serial_number=f"BULK-{batch_id}-{n}", category=categories[n % len(categories)], brand="Dell",
                 model="Latitude", grade="B", price_cents=5000, status=statuses[n % len(statuses)],
                 pickup_point_id=point_id, batch_id=batch_id, offer_key=f"bulk{n % 50}", created_at=now, updated_at=now)
            for n in range(count)]
    from shop.extensions import db as _db

    _db.session.execute(sa.insert(Device), rows)


def _measure(client, count_queries, donor):
    today = utcnow().astimezone(PARIS).date()  # the dashboard counts days in Paris (after 23:00 UTC: tomorrow)
    with count_queries() as report_queries:
        report = impact.donor_report(donor)
    with count_queries() as dashboard_queries:
        impact.dashboard(impact.date_range(today - timedelta(days=365), today))
    with count_queries() as page_queries:
        assert client.get(f"/admin/donors/{donor.id}/report").status_code == 200
    with count_queries() as dashboard_page_queries:
        assert client.get("/admin/impact").status_code == 200
    counts = (report_queries.count, dashboard_queries.count, page_queries.count, dashboard_page_queries.count)
    return report.received, counts


def test_report_and_dashboard_run_a_constant_number_of_queries(client, db, scenario, count_queries):
    factories.signed_in(client, factories.user(Role.ADMIN))
    point_id = db.session.scalar(sa.select(Device.pickup_point_id).limit(1))
    _bulk_devices(point_id, scenario["a2"].id, 3)
    db.session.commit()
    received, few = _measure(client, count_queries, scenario["a"])
    assert received == 10
    _bulk_devices(point_id, scenario["a1"].id, 1000)
    db.session.commit()
    received, many = _measure(client, count_queries, scenario["a"])
    assert received == 1010
    assert many == few, (few, many)
    print(f"queries (report, dashboard, report page, dashboard page): {few} at 10 devices, {many} at 1,010")
    assert few[0] <= 8 and few[1] <= 12


@pytest.mark.parametrize("count, small", [(0, False), (1, True), (4, True), (5, False), (120, False)])
def test_counts_from_one_to_four_are_never_shown(count, small):
    assert impact.is_small(count) is small


def test_public_page_shows_small_counts_as_fewer_than_five_and_names_its_sources(client, db, scenario):
    page = without_bdi(client.get("/impact", headers=EN).text)
    assert "fewer than 5" in page and "people equipped" in page  # 3 people in the scenario
    assert "ADEME" in page and "(2022)" in page and "data sheets" in page
    french = client.get("/impact", headers={"Accept-Language": "fr"})
    assert french.status_code == 200 and 'lang="fr"' in french.text


def test_bar_chart_scales_bars_to_the_largest_value():
    from shop.impact.charts import bar_chart

    chart = bar_chart("c", "Title", "Description", [("a", 10, "10"), ("b", 5, "5"), ("c", 0, "0")])
    widths = [bar.width for bar in chart.bars]
    assert widths[0] == chart.width - chart.label_width - 70 and widths[1] == widths[0] / 2 and widths[2] == 0
    assert [bar.y for bar in chart.bars] == sorted(bar.y for bar in chart.bars)
    assert bar_chart("e", "T", "D", []).bars == []
