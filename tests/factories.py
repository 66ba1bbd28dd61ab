"""Small factories for tests: each returns a flushed object with sensible defaults."""

import itertools

import sqlalchemy as sa
from datetime import date, time

from shop.extensions import db
from shop.models import (
    Category, Device, DeviceStatus, DonationBatch, Donor, DonorKind, Grade, OpeningHours, PickupPoint,
)
from shop.services import devices as device_service

_seq = itertools.count(1)


def pickup_point(**overrides) -> PickupPoint:
    n = next(_seq)
    values = dict(slug=f"point-{n}", name=f"Point {n}", address=f"{n} rue de la Paix", postcode="57000",
                  town="Metz", phone="03 87 00 00 00")
    values.update(overrides)
    point = PickupPoint(**values)
    point.opening_hours = [OpeningHours(weekday=2, opens=time(9), closes=time(12))]
    db.session.add(point)
    db.session.flush()
    return point


def batch(*, public: bool = True, **overrides) -> DonationBatch:
    n = next(_seq)
    donor = Donor(name=f"Donor {n}", kind=DonorKind.PUBLIC_BODY if public else DonorKind.COMPANY)
    values = dict(donor=donor, reference=f"B-{n}", received_on=date(2026, 1, 15), declared_count=10)
    values.update(overrides)
    item = DonationBatch(**values)
    db.session.add(item)
    db.session.flush()
    return item


S = DeviceStatus
_TO_LISTED = [S.ERASED, S.REFURBISHED, S.LISTED]
PATHS = {
    S.RECEIVED: [], S.ERASED: _TO_LISTED[:1], S.REFURBISHED: _TO_LISTED[:2], S.LISTED: _TO_LISTED,
    S.RESERVED: _TO_LISTED + [S.RESERVED], S.SOLD: _TO_LISTED + [S.RESERVED, S.SOLD],
    S.WITHDRAWN: [S.WITHDRAWN], S.RECYCLED: [S.RECYCLED],
}


def erasure(item: Device, *, result: str = "success", **overrides):
    """An erasure record for a device (successful by default): the proof a device needs to go on sale."""
    from shop.models import ErasureMethod, ErasureRecord, ErasureResult

    values = dict(method=ErasureMethod.NIST_PURGE, tool="Blancco Drive Eraser", tool_version="7.9",
                  performed_on=date(2026, 1, 20), operator="Valor'Emm", result=ErasureResult(result),
                  certificate_reference=f"CERT-{item.serial_number}")
    values.update(overrides)
    record = ErasureRecord(device_id=item.id, **values)
    db.session.add(record)
    db.session.flush()
    return record


def device(*, point: PickupPoint | None = None, status: DeviceStatus = DeviceStatus.LISTED, **overrides) -> Device:
    """A device taken through the real lifecycle service up to `status` (with a successful erasure
    record once it is past `received`)."""
    n = next(_seq)
    values = dict(
        serial_number=f"SN-{n:06d}", category=Category.LAPTOP, brand="Lenovo", model="ThinkPad T480",
        cpu="Intel Core i5-8350U", ram_gb=8, storage_gb=256, screen_tenths=140, os="Windows 11",
        grade=Grade.B, battery_health=85, price_cents=12000,
    )
    values.update(overrides)
    if point is None and "pickup_point_id" not in values:
        point = pickup_point()
    if point is not None:
        values["pickup_point_id"] = point.id
    item = Device(**values)
    device_service.add_device(item, actor="test")
    if S.ERASED in PATHS[status]:  # erased devices have their proof of erasure
        erasure(item)
    device_service.move_along(item, PATHS[status], actor="test")
    return item


def organisation(**overrides):
    from shop.models import Organisation, OrganisationKind, OrganisationStatus

    n = next(_seq)
    values = dict(name=f"Structure {n}", kind=OrganisationKind.CCAS, town="Metz", monthly_quota=50,
                  status=OrganisationStatus.ACTIVE)
    values.update(overrides)
    item = Organisation(**values)
    db.session.add(item)
    db.session.flush()
    return item


PASSWORD = "correct horse battery staple"


def user(role=None, *, org=None, password: str = PASSWORD, two_factor: bool | None = None, enrol_window: bool = True,
         **overrides):
    """An account; staff and admins come with two-step sign-in set up (it is required for them),
    unless two_factor=False: then, as an account made with `flask create-user`, it may set it up
    at its first sign-in (enrol_window=False: only through a link sent to it)."""
    from shop.models import Role
    from shop.services import accounts, twofactor

    role = role or Role.SOCIAL_WORKER
    if role.is_partner and org is None:
        org = organisation()
    n = next(_seq)
    item = accounts.create_user(email=overrides.pop("email", f"user{n}@example.org"), name=overrides.pop("name", f"User {n}"),
                                role=role, password=password, organisation=org, check_policy=False, **overrides)
    if two_factor or (two_factor is None and twofactor.required_for(item)):
        enrol_two_factor(item)
    elif enrol_window:
        twofactor.allow_enrolment_at_sign_in(item)
    return item


def enrol_two_factor(account) -> list[str]:
    """Set up two-step sign-in through the real service; returns the recovery codes."""
    import pyotp

    from shop.services import twofactor

    secret = twofactor.start_enrolment(account)
    recovery = twofactor.confirm_enrolment(account, pyotp.TOTP(secret).now())
    account.totp_last_step = None  # the code used to confirm is not one a test will type
    db.session.flush()
    return recovery


def sign_in(client, email: str, password: str = PASSWORD, *, url: str = "/login", **form):
    """Post the sign-in form; when a second step is asked, type the code the app shows now.
    Returns the last response (303 once signed in)."""
    from shop.models import User
    from shop.services import twofactor

    response = client.post(url, data={"email": email, "password": password, **form})
    if response.status_code == 303 and response.headers["Location"] == "/login/code":
        account = db.session.scalar(sa.select(User).where(User.email == email))
        # Signing the same account in twice within 30 seconds would type the same code twice,
        # which is refused on purpose; a test helper may forget the last step used.
        account.totp_last_step = None
        db.session.commit()
        response = client.post("/login/code", data={"code": twofactor.current_code(account)})
    return response


def signed_in(client, user, lang: str | None = None) -> None:
    """Sign `user` in (both steps when asked), in `lang` if given; fails the test if refused."""
    if lang:
        client.set_cookie("lang", lang)
    response = sign_in(client, user.email)
    assert response.status_code == 303, f"sign-in of {user.email} failed: {response.status_code}"


def beneficiary(worker=None, **overrides):
    from shop.models import EligibilityGround
    from shop.services import partners

    worker = worker or user()
    values = dict(display_name=f"Person {next(_seq)}", birth_year=1985, language="fr", ground=EligibilityGround.RSA)
    values.update(overrides)
    return partners.register_beneficiary(partners.BeneficiaryData(**values), worker=worker)


def code(person=None, categories=("computer", "smartphone", "tablet"), **kwargs):
    """An issued eligibility code: returns (row, clear code)."""
    from shop.models import CodeCategory, Role, User
    from shop.services import codes

    person = person or beneficiary()
    worker = kwargs.pop("worker", None) or db.session.scalar(
        sa.select(User).where(User.organisation_id == person.organisation_id, User.role == Role.SOCIAL_WORKER).limit(1)
    )
    return codes.issue(person, [CodeCategory(c) for c in categories], worker=worker, **kwargs)


def without_bdi(html: str) -> str:
    """A page's HTML without its isolation (tags and FSI/PDI), to find a sentence as a person reads it."""
    import re

    return re.sub(r"</?bdi>|[\u2068\u2069]", "", html)
