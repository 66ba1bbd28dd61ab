import pytest
from tests.browser.test_phone_layout import scene, page_as, issue_slip  # noqa: F401

pytestmark = pytest.mark.browser
OUT = "/work/wt/shots"


@pytest.mark.parametrize("lang", ["ar", "ps"])
def test_shots(scene, page_as, lang):
    page = page_as("public", lang)
    page.goto(f"/offer/{scene['offer']}")
    page.screenshot(path=f"{OUT}/{lang}-offer.png", full_page=True)
    page = page_as("partner", lang)
    issue_slip(page, lang)
    page.screenshot(path=f"{OUT}/{lang}-slip.png", full_page=True)
    page = page_as("staff", lang)
    page.goto(f"/staff/reservations/{scene['waiting']}")
    page.screenshot(path=f"{OUT}/{lang}-staff-reservation.png", full_page=True)
    page.goto(f"/staff/reservations/{scene['sold']}/receipt")
    page.screenshot(path=f"{OUT}/{lang}-receipt.png", full_page=True)
