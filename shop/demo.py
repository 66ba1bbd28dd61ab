"""Realistic demo data for a Metz-area shop (development only)."""

import random
from datetime import date, time, timedelta

import sqlalchemy as sa

from shop.extensions import db
from shop.models import (
    Beneficiary, Category, CodeCategory, Device, DeviceStatus, DonationBatch, Donor, DonorKind,
    EligibilityGround, ErasureMethod, ErasureRecord, ErasureResult, Grade, KeyboardLayout, OpeningHours, Organisation, OrganisationAudience, OrganisationKind,
    OrganisationStatus, PickupPoint, Role, SlotTemplate, User,
)
from shop.models.stock import RecyclingReason
from shop.models.types import utcnow
from shop.services import accounts, codes, partners, twofactor
from shop.services import devices as device_service

ACTOR = "seed-demo"

PICKUP_POINTS = [
    {
        "slug": "metz-centre", "name": "Emmaüs Connect Metz", "address": "12 rue Mazelle",
        "postcode": "57000", "town": "Metz", "phone": "03 87 00 00 01",
        "hours": [(1, "09:30", "12:30"), (1, "14:00", "17:30"), (3, "09:30", "12:30"),
                  (3, "14:00", "17:30"), (4, "14:00", "18:30")],
    },
    {
        "slug": "metz-borny", "name": "Espace solidaire de Borny", "address": "3 boulevard de Provence",
        "postcode": "57070", "town": "Metz", "phone": "03 87 00 00 02",
        "hours": [(0, "14:00", "17:00"), (2, "09:00", "12:00"), (5, "09:00", "12:00")],
    },
    {
        "slug": "woippy", "name": "Point relais de Woippy", "address": "1 place Jean Perrin",
        "postcode": "57140", "town": "Woippy", "phone": None,
        "hours": [(2, "14:00", "18:00"), (4, "09:00", "12:00")],
    },
]

DONORS = [
    ("Eurométropole de Metz", DonorKind.PUBLIC_BODY, [
        ("EMM-2025-01", date(2025, 9, 15), 40, "Hôtel de Ville, Metz"),
        ("EMM-2025-02", date(2025, 12, 3), 30, "Centre technique municipal, Metz"),
        ("EMM-2026-01", date(2026, 3, 20), 20, "Pôle numérique, Metz"),
    ]),
    ("Mutuelle lorraine (démo)", DonorKind.COMPANY, [
        ("MUT-2026-01", date(2026, 5, 11), 12, "Siège, Metz"),
    ]),
]

# category, brand, model, cpu, ram, storage, screen tenths, os, keyboard, base price in cents
MODELS = [
    (Category.LAPTOP, "Lenovo", "ThinkPad T480", "Intel Core i5-8350U", 8, 256, 140, "Windows 11", KeyboardLayout.AZERTY, 12000),
    (Category.LAPTOP, "Dell", "Latitude 5490", "Intel Core i5-8250U", 8, 256, 140, "Windows 11", KeyboardLayout.AZERTY, 11000),
    (Category.LAPTOP, "HP", "EliteBook 840 G5", "Intel Core i5-8250U", 16, 512, 140, "Windows 11", KeyboardLayout.AZERTY, 15000),
    (Category.LAPTOP, "Lenovo", "ThinkPad X280", "Intel Core i5-8250U", 8, 256, 125, "Linux Mint", KeyboardLayout.AZERTY, 9000),
    (Category.LAPTOP, "Dell", "Latitude 3500", "Intel Core i3-8145U", 4, 128, 156, "Linux Mint", KeyboardLayout.AZERTY, 6000),
    (Category.DESKTOP, "Dell", "OptiPlex 7060", "Intel Core i5-8500", 8, 256, None, "Windows 11", KeyboardLayout.AZERTY, 9000),
    (Category.DESKTOP, "HP", "ProDesk 600 G4", "Intel Core i3-8100", 8, 256, None, "Windows 11", KeyboardLayout.AZERTY, 7000),
    (Category.SMARTPHONE, "Samsung", "Galaxy A52", None, 6, 128, 65, "Android 14", None, 9000),
    (Category.SMARTPHONE, "Apple", "iPhone 8", None, 2, 64, 47, "iOS 16", None, 8000),
    (Category.SMARTPHONE, "Google", "Pixel 4a", None, 6, 128, 58, "Android 13", None, 7000),
    (Category.SMARTPHONE, "Fairphone", "Fairphone 3+", None, 4, 64, 57, "Android 13", None, 6000),
    (Category.TABLET, "Apple", "iPad 9.7 (2018)", None, 2, 32, 97, "iPadOS 17", None, 8000),
    (Category.TABLET, "Samsung", "Galaxy Tab A 10.1", None, 3, 32, 101, "Android 11", None, 5000),
    (Category.SCREEN, "Dell", "P2219H", None, None, None, 215, None, None, 2500),
    (Category.SCREEN, "HP", "E233", None, None, None, 230, None, None, 3000),
    (Category.PRINTER, "HP", "LaserJet Pro M404dn", None, None, None, None, None, None, 3000),
    (Category.MULTIFUNCTION_PRINTER, "Brother", "MFC-L2710DW", None, None, None, None, None, None, 6000),
    (Category.ACCESSORY, "Logitech", "MK270", None, None, None, None, None, KeyboardLayout.AZERTY, 1000),
]

PATHS = {
    DeviceStatus.RECEIVED: [],
    DeviceStatus.ERASED: [DeviceStatus.ERASED],
    DeviceStatus.REFURBISHED: [DeviceStatus.ERASED, DeviceStatus.REFURBISHED],
    DeviceStatus.LISTED: [DeviceStatus.ERASED, DeviceStatus.REFURBISHED, DeviceStatus.LISTED],
    DeviceStatus.RECYCLED: [DeviceStatus.RECYCLED],
}

# Stored as the reason's value, shown in the reader's language (see RecyclingReason).
RECYCLING_REASONS = list(RecyclingReason)


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _pickup_points() -> list[PickupPoint]:
    points = []
    for spec in PICKUP_POINTS:
        point = db.session.scalar(sa.select(PickupPoint).where(PickupPoint.slug == spec["slug"]))
        if point is None:
            point = PickupPoint(**{k: v for k, v in spec.items() if k != "hours"})
            point.opening_hours = [
                OpeningHours(weekday=day, opens=_hhmm(opens), closes=_hhmm(closes))
                for day, opens, closes in spec["hours"]
            ]
            db.session.add(point)
        points.append(point)
    db.session.flush()
    return points


def _batches() -> list[DonationBatch]:
    batches = []
    for name, kind, specs in DONORS:
        donor = db.session.scalar(sa.select(Donor).where(Donor.name == name))
        if donor is None:
            donor = Donor(name=name, kind=kind)
            db.session.add(donor)
        for reference, received_on, declared, site in specs:
            batch = db.session.scalar(sa.select(DonationBatch).where(DonationBatch.reference == reference))
            if batch is None:
                batch = DonationBatch(donor=donor, reference=reference, received_on=received_on,
                                      declared_count=declared, collection_site=site)
                db.session.add(batch)
            batches.append(batch)
    db.session.flush()
    return batches


DEMO_PASSWORD = "solidarity-demo"
DEMO_ENROL_WINDOW = timedelta(days=365)

ORGANISATIONS = [
    ("CCAS de Metz", OrganisationKind.CCAS, "Metz", "ccas@example.org", 40),
    ("Association Pas à Pas", OrganisationKind.ASSOCIATION, "Woippy", "contact@pasapas.example.org", 15),
    ("Mission Locale du Pays Messin", OrganisationKind.MISSION_LOCALE, "Metz", None, 20),
]

# What "Where to get a code" shows of each demo structure: address, postcode, phone, opening hours.
ORGANISATION_DETAILS = {
    "CCAS de Metz": ("22 rue du Wad Billy", "57000", "+33387000001", "Du lundi au vendredi, 8 h 30 à 12 h et 13 h 30 à 17 h"),
    "Association Pas à Pas": ("4 rue de Briey", "57140", "+33387000002", "Mardi et jeudi, 9 h à 12 h, sans rendez-vous"),
    "Mission Locale du Pays Messin": ("1 place du Pontiffroy", "57000", "+33387000003", "Du lundi au vendredi, 9 h à 17 h, sur rendez-vous"),
}

ACCOUNTS = [
    ("admin@example.org", "Alice Admin", Role.ADMIN, None),
    ("staff@example.org", "Samir Staff", Role.STAFF, "metz-centre"),
    ("partner-admin@example.org", "Paula Partner", Role.PARTNER_ADMIN, "CCAS de Metz"),
    ("worker@example.org", "Wassim Worker", Role.SOCIAL_WORKER, "CCAS de Metz"),
    ("worker2@example.org", "Wanda Worker", Role.SOCIAL_WORKER, "Association Pas à Pas"),
]

BENEFICIARIES = [
    # organisation, name, birth year, language, phone, ground, code categories, code state
    ("CCAS de Metz", "Amina", 1987, "ar", "06 12 34 56 78", EligibilityGround.RSA, ["computer"], "active"),
    ("CCAS de Metz", "Oleksandr", 1979, "uk", None, EligibilityGround.ASYLUM_REFUGEE, ["smartphone"], "active"),
    ("CCAS de Metz", "Jean-Marc", 1962, "fr", "07 61 22 33 44", EligibilityGround.AAH, ["computer"], "expired"),
    ("CCAS de Metz", "Fatou", 2004, "fr", None, EligibilityGround.YOUNG_PERSON, ["computer", "smartphone"], "revoked"),
    ("CCAS de Metz", "Nadia", 1991, "ar", None, EligibilityGround.CSS, ["tablet"], "expiring"),
    ("Association Pas à Pas", "Dmytro", 1985, "uk", None, EligibilityGround.ASYLUM_REFUGEE, ["computer"], "active"),
    ("Association Pas à Pas", "Sylvie", 1958, "fr", "06 98 76 54 32", EligibilityGround.MINIMUM_VIEILLESSE, ["smartphone"], "active"),
]


def _organisations() -> dict[str, Organisation]:
    found = {}
    for name, kind, town, email, quota in ORGANISATIONS:
        organisation = db.session.scalar(sa.select(Organisation).where(Organisation.name == name))
        if organisation is None:
            organisation = Organisation(name=name, kind=kind, town=town, contact_email=email, monthly_quota=quota,
                                        status=OrganisationStatus.ACTIVE, audience=OrganisationAudience.usual_for(kind))
            db.session.add(organisation)
        if organisation.address is None and name in ORGANISATION_DETAILS:  # also for a demo loaded before
            address, postcode, phone, hours = ORGANISATION_DETAILS[name]
            organisation.address, organisation.postcode, organisation.opening_hours = address, postcode, hours
            organisation.contact_phone = organisation.contact_phone or phone
        found[name] = organisation
    db.session.flush()
    return found


def _accounts(organisations: dict[str, Organisation]) -> dict[str, User]:
    users = {}
    for email, name, role, where in ACCOUNTS:
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            point_id = None
            if role == Role.STAFF:
                point_id = db.session.scalar(sa.select(PickupPoint.id).where(PickupPoint.slug == where))
            user = accounts.create_user(
                email=email, name=name, role=role, password=DEMO_PASSWORD, pickup_point_id=point_id,
                organisation=organisations[where] if role.is_partner else None, check_policy=False,
            )
        if not user.has_two_factor:  # the demo accounts set up their second factor at their first sign-in
            twofactor.allow_enrolment_at_sign_in(user, window=DEMO_ENROL_WINDOW)
        users[email] = user
    return users


def _beneficiaries(organisations: dict[str, Organisation], users: dict[str, User]) -> int:
    created = 0
    now = utcnow()
    workers = {u.organisation_id: u for u in users.values() if u.role == Role.SOCIAL_WORKER}
    for org_name, name, year, language, phone, ground, categories, state in BENEFICIARIES:
        organisation = organisations[org_name]
        exists = db.session.scalar(sa.select(Beneficiary.id).where(
            Beneficiary.organisation_id == organisation.id, Beneficiary.display_name == name))
        if exists is not None:
            continue
        worker = workers[organisation.id]
        person = partners.register_beneficiary(
            partners.BeneficiaryData(display_name=name, birth_year=year, language=language, ground=ground, phone=phone),
            worker=worker, override_reason="demo",
        )
        issued_at = now - timedelta(days=100) if state == "expired" else now - timedelta(days=80 if state == "expiring" else 3)
        code, _ = codes.issue(person, [CodeCategory(c) for c in categories], worker=worker, now=issued_at)
        if state == "revoked":
            codes.revoke(code, worker=worker, reason="Fiche perdue", now=now)  # as a worker in Metz types it
        created += 1
    return created


# Default prices (euros) by category and grade, never above the legal caps.
PRICE_GRID = {
    Category.LAPTOP: (150, 120, 90), Category.DESKTOP: (120, 100, 80), Category.SMARTPHONE: (100, 85, 70),
    Category.TABLET: (90, 75, 60), Category.SCREEN: (30, 25, 20), Category.ACCESSORY: (10, 5, 3),
}


def _price_grid() -> None:
    from shop.models import GridPrice

    if db.session.scalar(sa.select(GridPrice.id).limit(1)) is not None:
        return
    for category, prices in PRICE_GRID.items():
        for grade, euros in zip((Grade.A, Grade.B, Grade.C), prices):
            db.session.add(GridPrice(category=category, grade=grade, price_cents=euros * 100))
    db.session.flush()


def _pickup_times(point: PickupPoint) -> None:
    """The first point offers pickup times: its opening hours in 15-minute slots, 2 people each."""
    from shop.services import slots

    if db.session.scalar(sa.select(SlotTemplate.id).where(SlotTemplate.pickup_point_id == point.id)):
        return
    slots.set_mode(point, "optional", actor=None)
    for hours in point.opening_hours:
        slots.add_template(point, weekday=hours.weekday, start_minute=hours.opens.hour * 60 + hours.opens.minute,
                           end_minute=hours.closes.hour * 60 + hours.closes.minute, slot_minutes=15, capacity=2,
                           actor=None)


def seed_demo(device_count: int = 84, *, seed: int = 2025) -> dict[str, int]:
    """Create pickup points, donors, batches, devices, structures, accounts and people; safe to run twice."""
    points = _pickup_points()
    _pickup_times(points[0])
    batches = _batches()
    _price_grid()
    organisations = _organisations()
    users = _accounts(organisations)
    people = _beneficiaries(organisations, users)
    rng = random.Random(seed)
    created = 0
    for n in range(device_count):
        serial = f"DEMO-{n:05d}"
        if db.session.scalar(sa.select(Device.id).where(Device.serial_number == serial)) is not None:
            continue
        category, brand, model, cpu, ram, storage, screen, os_name, keyboard, base = MODELS[n % len(MODELS)]
        grade = rng.choices([Grade.A, Grade.B, Grade.C], weights=[3, 5, 2])[0]
        price = base - {Grade.A: 0, Grade.B: 1000, Grade.C: 2000}[grade] if base > 3000 else base
        battery = None
        if category in (Category.LAPTOP, Category.SMARTPHONE, Category.TABLET):
            battery = rng.choice([78, 82, 85, 88, 91, 95])
        device = Device(
            serial_number=serial, category=category, brand=brand, model=model, cpu=cpu, ram_gb=ram,
            storage_gb=storage, screen_tenths=screen, os=os_name, keyboard_layout=keyboard,
            grade=grade, battery_health=battery, price_cents=max(price, 500),
            pickup_point_id=points[n % 5 % len(points)].id, batch=batches[n % len(batches)],
        )
        device_service.add_device(device, actor=ACTOR)
        final = rng.choices(list(PATHS), weights=[2, 2, 3, 36, 1])[0]
        if DeviceStatus.ERASED in PATHS[final]:  # the proof of erasure a device needs to go on sale
            db.session.add(ErasureRecord(
                device_id=device.id, method=ErasureMethod.NIST_PURGE, tool="Blancco Drive Eraser", tool_version="7.9",
                performed_on=device.batch.received_on + timedelta(days=7), operator="Valor'Emm",
                result=ErasureResult.SUCCESS, certificate_reference=f"VALOR-{device.batch.reference}-{n:05d}",
            ))
            db.session.flush()
        if final == DeviceStatus.RECYCLED:  # the reason shows in the donor's report
            device_service.transition(device.id, device.status, final, actor=ACTOR,
                                      note=RECYCLING_REASONS[n % len(RECYCLING_REASONS)].value)
        else:
            device_service.move_along(device, PATHS[final], actor=ACTOR)
        created += 1
    return {"pickup_points": len(points), "batches": len(batches), "devices": created,
            "structures": len(organisations), "accounts": len(users), "beneficiaries": people}
