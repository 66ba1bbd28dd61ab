"""Admin pages for API tokens: create (shown once), list, revoke; only admins."""

import re

import pytest
import sqlalchemy as sa

from shop.models import ApiRole, ApiToken, Role
from tests import factories


@pytest.fixture
def client(client):
    client.set_cookie("lang", "en")
    return client


@pytest.fixture
def admin(client, db):
    user = factories.user(Role.ADMIN, email="coordinator@example.org")
    factories.sign_in(client, user.email)
    return user


def test_an_admin_creates_a_token_sees_it_once_and_revokes_it(client, admin, db):
    donor = factories.batch().donor
    db.session.commit()
    assert client.get("/admin/api-tokens").status_code == 200
    response = client.post("/admin/api-tokens", data={"name": "Valor'Emm", "role": "refurbisher", "donors": [donor.id],
                                                      "organisation": "", "expires_on": ""})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    raw = re.search(r"shop_[A-Za-z0-9_-]{40,}", response.get_data(as_text=True)).group(0)
    assert client.get("/api/v1/token", headers={"Authorization": f"Bearer {raw}"}).json["role"] == "refurbisher"
    listing = client.get("/admin/api-tokens").get_data(as_text=True)
    assert raw not in listing and raw[:12] in listing and "Valor" in listing
    token = db.session.scalar(sa.select(ApiToken))
    assert client.post(f"/admin/api-tokens/{token.id}/revoke").status_code == 303
    assert client.get("/api/v1/token", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    assert "Revoked" in client.get("/admin/api-tokens").get_data(as_text=True)


def test_a_token_form_with_a_wrong_scope_keeps_what_was_typed(client, admin, db):
    response = client.post("/admin/api-tokens", data={"name": "Partner software", "role": "partner",
                                                      "organisation": "", "expires_on": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Partner software" in html and "Choose the structure" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0
    organisation = factories.organisation()
    db.session.commit()
    response = client.post("/admin/api-tokens", data={"name": "CCAS", "role": "partner",
                                                      "organisation": str(organisation.id), "expires_on": "2020-01-01"})
    assert response.status_code == 422 and "future" in response.get_data(as_text=True)


def test_only_admins_reach_the_token_pages(client, db):
    staff = factories.user(Role.STAFF)
    factories.sign_in(client, staff.email)
    assert client.get("/admin/api-tokens").status_code in (403, 404)
    assert client.post("/admin/api-tokens", data={"name": "x", "role": ApiRole.DONOR.value}).status_code in (403, 404)
