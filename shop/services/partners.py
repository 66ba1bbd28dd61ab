"""Partner structures, beneficiaries, and the one scoping helper for partner users."""

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from shop.extensions import db
from shop.models import (
    Beneficiary, CodeState, EligibilityCode, EligibilityGround, Organisation, OrganisationAudience,
    OrganisationKind, OrganisationStatus, Role, User,
)
from shop.models.types import utcnow
from shop.services import audit, csvfile
from shop.services.accounts import normalise_email
from shop.services.tx import atomic
from shop.services.errors import DomainError, NotFound

MIN_BIRTH_YEAR = 1900
EXPIRING_SOON = timedelta(days=14)


# --- Structures -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PublicDetails:
    """What "Where to get a code" tells a person about a structure."""

    address: str | None = None
    postcode: str | None = None
    opening_hours: str | None = None
    audience: OrganisationAudience | None = None  # None: whom its kind usually helps


def _set_public_details(organisation: Organisation, details: PublicDetails) -> None:
    def clean(text, length):
        text = " ".join((text or "").split())
        return text[:length] or None

    organisation.address = clean(details.address, 160)
    organisation.postcode = clean(details.postcode, 10)
    organisation.opening_hours = clean(details.opening_hours, 200)
    organisation.audience = details.audience or OrganisationAudience.usual_for(organisation.kind)


@atomic
def create_organisation(*, name: str, kind: OrganisationKind, town: str, contact_email: str | None,
                        contact_phone: str | None, monthly_quota: int, actor: User | None,
                        details: PublicDetails = PublicDetails()) -> Organisation:
    name, town = (name or "").strip(), (town or "").strip()
    if not name or not town:
        raise DomainError(_l("Please enter the name and the town."))
    if db.session.scalar(sa.select(Organisation.id).where(sa.func.lower(Organisation.name) == name.lower())):
        raise DomainError(_l("A structure with this name already exists."), field="name")
    _check_quota(monthly_quota)
    organisation = Organisation(
        name=name[:160], kind=OrganisationKind(kind), town=town[:80],
        contact_email=normalise_email(contact_email) if contact_email else None,
        contact_phone=normalise_phone(contact_phone) if contact_phone else None,
        monthly_quota=monthly_quota, status=OrganisationStatus.PENDING,
    )
    _set_public_details(organisation, details)
    try:
        with db.session.begin_nested():
            db.session.add(organisation)
    except sa.exc.IntegrityError:  # the same name, created a moment ago by someone else
        raise DomainError(_l("A structure with this name already exists."), field="name") from None
    audit.record(actor, "organisation.create", organisation, organisation_id=organisation.id)
    return organisation


def _check_quota(quota: int) -> None:
    if quota is None or not 0 <= quota <= 10_000:
        raise DomainError(_l("The monthly quota must be between 0 and 10,000 codes."))


def set_organisation_status(organisation: Organisation, status: OrganisationStatus, *, actor: User) -> None:
    organisation.status = OrganisationStatus(status)
    db.session.flush()
    audit.record(actor, f"organisation.{organisation.status.value}", organisation, organisation_id=organisation.id)


@atomic
def set_public_details(organisation: Organisation, details: PublicDetails, *, contact_phone: str | None,
                       contact_email: str | None, actor: User) -> None:
    """Change what people read about a structure on "Where to get a code"."""
    try:
        organisation.contact_phone = normalise_phone(contact_phone) if contact_phone else None
    except DomainError as error:
        raise DomainError(error.message, field="contact_phone") from None
    organisation.contact_email = normalise_email(contact_email) if contact_email else None
    _set_public_details(organisation, details)
    db.session.flush()
    audit.record(actor, "organisation.details", organisation, organisation_id=organisation.id)


def set_quota(organisation: Organisation, quota: int, *, actor: User) -> None:
    _check_quota(quota)
    organisation.monthly_quota = quota
    db.session.flush()
    audit.record(actor, "organisation.quota", organisation, organisation_id=organisation.id, quota=quota)


def active_organisations_by_town() -> dict[str, list[Organisation]]:
    rows = db.session.scalars(
        sa.select(Organisation).where(Organisation.status == OrganisationStatus.ACTIVE)
        .order_by(Organisation.town, Organisation.name)
    )
    towns: dict[str, list[Organisation]] = {}
    for organisation in rows:
        towns.setdefault(organisation.town, []).append(organisation)
    return towns


# --- Beneficiaries --------------------------------------------------------------------------

def fold_name(name: str) -> str:
    """Case- and accent-insensitive form of a name, for the duplicate warning."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


def normalise_mobile(text: str) -> str:
    """An E.164 number that can receive texts (a mobile); DomainError otherwise."""
    e164 = normalise_phone(text)
    kind = phonenumbers.number_type(phonenumbers.parse(e164))
    if kind not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise DomainError(_l("This number cannot receive text messages. Give a mobile number."), field="sms_phone")
    return e164


def normalise_phone(text: str) -> str:
    """An E.164 phone number (French by default); DomainError otherwise."""
    try:
        number = phonenumbers.parse(text, "FR")
    except phonenumbers.NumberParseException:
        raise DomainError(_l("This phone number is not valid."), field="phone") from None
    if not phonenumbers.is_valid_number(number):
        raise DomainError(_l("This phone number is not valid."), field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass
class BeneficiaryData:
    display_name: str
    birth_year: int
    language: str
    ground: EligibilityGround
    phone: str | None = None
    email: str | None = None
    justification: str | None = None
    texts_allowed: bool = False  # the person agreed to receive text messages…
    sms_phone: str | None = None  # …on this number (empty: the phone above)


class PossibleDuplicate(DomainError):
    """Someone with the same name, year of birth and phone is registered elsewhere."""


def check_birth_year(year: int | None, now: datetime | None = None) -> None:
    """A year of birth is a plausible 4-digit year ("85" is not 1985)."""
    now = now or utcnow()
    if not MIN_BIRTH_YEAR <= (year or 0) <= now.year:
        raise DomainError(_l("The year of birth must be between %(min)d and %(max)d.", min=MIN_BIRTH_YEAR, max=now.year),
                          field="birth_year")


def check_justification(ground: EligibilityGround, justification: str | None) -> None:
    if ground == EligibilityGround.OTHER and not (justification or "").strip():
        raise DomainError(_l("Please explain the reason when you choose “Other”."), field="justification")


def _clean(data: BeneficiaryData, now: datetime) -> dict:
    name = " ".join((data.display_name or "").split())
    if not name:
        raise DomainError(_l("Please enter the name the person is called by."), field="display_name")
    check_birth_year(data.birth_year, now)
    if data.language not in current_app.config["LANGUAGES"]:
        raise DomainError(_l("Choose a language from the list."), field="language")
    ground = EligibilityGround(data.ground)
    justification = (data.justification or "").strip() or None
    check_justification(ground, justification)
    sms_phone = None
    if data.texts_allowed:
        number = (data.sms_phone or "").strip() or (data.phone or "").strip()
        if not number:
            raise DomainError(_l("To send text messages, give the number the person agreed to."), field="sms_phone")
        try:
            sms_phone = normalise_mobile(number)
        except DomainError as error:
            raise DomainError(error.message, field="sms_phone") from None
    return dict(
        sms_phone=sms_phone,
        display_name=name[:80], name_key=fold_name(name)[:80], birth_year=data.birth_year, language=data.language,
        ground=ground, justification=justification[:200] if justification else None,
        phone=normalise_phone(data.phone) if data.phone else None,
        email=normalise_email(data.email) if data.email else None,
    )


@atomic
def register_beneficiary(data: BeneficiaryData, *, worker: User, override_reason: str | None = None,
                         now: datetime | None = None) -> Beneficiary:
    """Register a person for the worker's structure, warning (without details) of a duplicate."""
    now = now or utcnow()
    values = _clean(data, now)
    if values["phone"] and not (override_reason or "").strip():
        duplicate = db.session.scalar(
            sa.select(Beneficiary.id).where(
                Beneficiary.name_key == values["name_key"], Beneficiary.birth_year == values["birth_year"],
                Beneficiary.phone == values["phone"], Beneficiary.anonymised_at.is_(None),
            ).limit(1)
        )
        if duplicate is not None:
            raise PossibleDuplicate(
                _l("Someone with the same name, year of birth and phone is already registered. "
                   "If you are sure this is another person, or they changed structure, give a reason to go on.")
            )
    beneficiary = Beneficiary(
        sms_consent_at=now if values["sms_phone"] else None,
        organisation_id=worker.organisation_id, created_by_id=worker.id, created_at=now, last_activity_at=now,
        duplicate_override_reason=(override_reason or "").strip()[:200] or None, **values,
    )
    db.session.add(beneficiary)
    db.session.flush()
    audit.record(worker, "beneficiary.create", beneficiary, organisation_id=worker.organisation_id,
                 duplicate_override=bool(beneficiary.duplicate_override_reason), texts=bool(values["sms_phone"]))
    return beneficiary


def update_beneficiary(beneficiary: Beneficiary, data: BeneficiaryData, *, worker: User, now: datetime | None = None) -> None:
    now = now or utcnow()
    values = _clean(data, now)
    had_consent = beneficiary.texts_allowed
    # Consent is dated from when it was given for this number; a new number is a new consent.
    if values["sms_phone"] != beneficiary.sms_phone or beneficiary.sms_consent_at is None:
        beneficiary.sms_consent_at = now if values["sms_phone"] else None
    for key, value in values.items():
        setattr(beneficiary, key, value)
    beneficiary.last_activity_at = now
    db.session.flush()
    details = {"texts": bool(values["sms_phone"])} if had_consent != bool(values["sms_phone"]) else {}
    audit.record(worker, "beneficiary.update", beneficiary, organisation_id=beneficiary.organisation_id, **details)


def stop_texts(phone: str, *, source: str, now: datetime | None = None) -> int:
    """The person replied STOP (or asked their worker): no more texts to this number. Returns how
    many people had agreed to texts on it (usually one)."""
    people = db.session.scalars(sa.select(Beneficiary).where(Beneficiary.sms_phone == phone,
                                                             Beneficiary.sms_consent_at.is_not(None))).all()
    for person in people:
        person.sms_consent_at = None
        person.sms_phone = None
        db.session.flush()
        audit.record(None, "beneficiary.texts_stopped", person, organisation_id=person.organisation_id, source=source)
    return len(people)


# --- Scoping ----------------------------------------------------------------------------------

class PartnerScope:
    """Every query a partner user makes goes through here, bound to their structure."""

    def __init__(self, user: User):
        if not user.role.is_partner or user.organisation_id is None:
            raise NotFound(_l("Page not found"))
        self.user = user
        self.organisation_id = user.organisation_id

    def beneficiaries(self, *, search: str | None = None, status: str | None = None, now: datetime | None = None):
        now = now or utcnow()
        stmt = (
            sa.select(Beneficiary)
            .where(Beneficiary.organisation_id == self.organisation_id, Beneficiary.anonymised_at.is_(None))
            .options(selectinload(Beneficiary.codes))
            .order_by(Beneficiary.display_name, Beneficiary.id)
        )
        if search:
            stmt = stmt.where(Beneficiary.name_key.contains(fold_name(search)[:80], autoescape=True))
        if status in {s.value for s in CodeState}:
            stmt = stmt.where(Beneficiary.id.in_(self._beneficiaries_with_code_state(CodeState(status), now)))
        return stmt

    def _beneficiaries_with_code_state(self, state: CodeState, now: datetime):
        """People whose latest code is in this state (the one the dashboard shows)."""
        latest = (
            sa.select(sa.func.max(EligibilityCode.id))
            .where(EligibilityCode.organisation_id == self.organisation_id)
            .group_by(EligibilityCode.beneficiary_id)
        )
        codes = sa.select(EligibilityCode.beneficiary_id).where(EligibilityCode.id.in_(latest))
        if state == CodeState.EXPIRED:
            return codes.where(EligibilityCode.is_expired(now))
        if state == CodeState.ACTIVE:
            return codes.where(EligibilityCode.is_valid(now))
        return codes.where(EligibilityCode.status == state)

    def beneficiary(self, beneficiary_id: int) -> Beneficiary:
        found = db.session.scalar(
            sa.select(Beneficiary).where(
                Beneficiary.id == beneficiary_id, Beneficiary.organisation_id == self.organisation_id,
                Beneficiary.anonymised_at.is_(None),
            )
        )
        if found is None:
            raise NotFound(_l("Page not found"))
        return found

    def code(self, code_id: int) -> EligibilityCode:
        found = db.session.scalar(
            sa.select(EligibilityCode).where(
                EligibilityCode.id == code_id, EligibilityCode.organisation_id == self.organisation_id
            )
        )
        if found is None:
            raise NotFound(_l("Page not found"))
        return found

    def reservation(self, number: str):
        """A reservation of this structure's people, by its number."""
        from shop.models import Reservation

        found = db.session.scalar(
            sa.select(Reservation).where(Reservation.number == (number or "").upper()[:12],
                                         Reservation.organisation_id == self.organisation_id)
        )
        if found is None:
            raise NotFound(_l("Page not found"))
        return found

    def reservations_by_code(self, person: Beneficiary) -> dict:
        """Each of the person's codes → its latest reservation (what the code became)."""
        from shop.models import Reservation

        rows = db.session.scalars(
            sa.select(Reservation).where(Reservation.beneficiary_id == person.id,
                                         Reservation.organisation_id == self.organisation_id)
            .order_by(Reservation.id)
        )
        return {r.code_id: r for r in rows}

    def expiring_codes(self, now: datetime | None = None) -> list[EligibilityCode]:
        now = now or utcnow()
        return list(db.session.scalars(
            sa.select(EligibilityCode)
            .where(EligibilityCode.organisation_id == self.organisation_id, EligibilityCode.is_valid(now),
                   EligibilityCode.expires_at <= now + EXPIRING_SOON)
            .options(selectinload(EligibilityCode.beneficiary))
            .order_by(EligibilityCode.expires_at)
        ))

    def team(self) -> list[User]:
        return list(db.session.scalars(
            sa.select(User).where(User.organisation_id == self.organisation_id).order_by(User.name)
        ))

    def team_member(self, user_id: int) -> User:
        found = db.session.scalar(sa.select(User).where(User.id == user_id, User.organisation_id == self.organisation_id))
        if found is None:
            raise NotFound(_l("Page not found"))
        return found

    def organisation(self) -> Organisation:
        return db.session.get(Organisation, self.organisation_id)

    def export_csv(self, now: datetime | None = None) -> str:
        """The structure's own beneficiaries and codes, one line per code (or per person without one)."""
        now = now or utcnow()
        header = [_("Person"), _("Name"), _("Year of birth"), _("Language"), _("Phone"), _("E-mail"),
                  _("Eligibility ground"), _("Code"), _("Kinds of device"), _("State"), _("Issued on"),
                  _("Expires on"), _("Used on")]
        rows = []
        for person in db.session.scalars(self.beneficiaries(now=now)):
            for code in person.codes or [None]:
                rows.append([
                    person.id, person.display_name, person.birth_year, person.language,
                    person.phone, person.email, person.ground.value,
                    code.id if code else "", code.categories if code else "",
                    code.state(now).value if code else "", code.issued_at.isoformat() if code else "",
                    code.expires_at.isoformat() if code else "",
                    code.used_at.isoformat() if code and code.used_at else "",
                ])
        audit.record(self.user, "partner.export", None, organisation_id=self.organisation_id)
        return csvfile.to_csv(header, rows)


def can_manage_team(user: User) -> bool:
    return user.role.manages_team
