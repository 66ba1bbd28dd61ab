"""Partner structures, their people (accounts) and the beneficiaries they register."""

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.categories import CodeCategory  # noqa: F401 (described with the device categories)
from shop.models.stock import Category
from shop.models.types import LabelledEnum, UTCDateTime, all_of, enum_column, utcnow


class OrganisationKind(LabelledEnum):
    CCAS = "ccas", _l("Town social services (CCAS)")
    ASSOCIATION = "association", _l("Association")
    JOB_CENTRE = "job_centre", _l("Job centre (France Travail)")
    MISSION_LOCALE = "mission_locale", _l("Mission Locale")
    REFUGEE_SUPPORT = "refugee_support", _l("Refugee support")
    OTHER = "other", _l("Other")


class OrganisationAudience(LabelledEnum):
    """Who a structure helps, as told to a person looking for a code."""

    RESIDENTS = "residents", _l("People who live in the town")
    YOUNG_PEOPLE = "young_people", _l("Young people aged 16 to 25")
    JOB_SEEKERS = "job_seekers", _l("Job seekers")
    REFUGEES = "refugees", _l("Asylum seekers and refugees")
    ANYONE = "anyone", _l("Anyone in difficulty")

    @classmethod
    def usual_for(cls, kind: "OrganisationKind") -> "OrganisationAudience":
        """Whom a kind of structure usually helps: the default when none is chosen."""
        return _USUAL_AUDIENCE.get(kind, cls.ANYONE)


_USUAL_AUDIENCE = {
    OrganisationKind.CCAS: OrganisationAudience.RESIDENTS,
    OrganisationKind.MISSION_LOCALE: OrganisationAudience.YOUNG_PEOPLE,
    OrganisationKind.JOB_CENTRE: OrganisationAudience.JOB_SEEKERS,
    OrganisationKind.REFUGEE_SUPPORT: OrganisationAudience.REFUGEES,
}


class OrganisationStatus(LabelledEnum):
    PENDING = "pending", _l("Waiting for approval")
    ACTIVE = "active", _l("Active")
    DEACTIVATED = "deactivated", _l("Deactivated")


class Organisation(db.Model):
    """A partner structure whose social workers issue eligibility codes."""

    __tablename__ = "organisations"
    __table_args__ = (sa.CheckConstraint("monthly_quota >= 0", name="quota_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(160), unique=True)
    kind: Mapped[OrganisationKind] = mapped_column(enum_column(OrganisationKind, "organisation_kind"))
    town: Mapped[str] = mapped_column(sa.String(80))
    contact_email: Mapped[str | None] = mapped_column(sa.String(254))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(30))
    # Shown on "Where to get a code", so a person knows where to go, when, and if it is for them.
    address: Mapped[str | None] = mapped_column(sa.String(160))
    postcode: Mapped[str | None] = mapped_column(sa.String(10))
    opening_hours: Mapped[str | None] = mapped_column(sa.String(200))  # as the structure writes them
    audience: Mapped[OrganisationAudience] = mapped_column(
        enum_column(OrganisationAudience, "organisation_audience"), default=OrganisationAudience.ANYONE
    )
    status: Mapped[OrganisationStatus] = mapped_column(
        enum_column(OrganisationStatus, "organisation_status"), default=OrganisationStatus.PENDING
    )
    monthly_quota: Mapped[int] = mapped_column(default=20)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_active(self) -> bool:
        return self.status == OrganisationStatus.ACTIVE


class QuotaUsage(db.Model):
    """Codes issued by one structure in one month: the counter that the quota guards."""

    __tablename__ = "quota_usage"
    __table_args__ = (sa.CheckConstraint("issued >= 0", name="issued_not_negative"),)

    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)  # "2026-11", Paris time
    issued: Mapped[int] = mapped_column(default=0)


class EligibilityGround(LabelledEnum):
    RSA = "rsa", _l("RSA (active solidarity income)")
    ASS = "ass", _l("ASS (specific solidarity allowance)")
    AAH = "aah", _l("AAH (disabled adult allowance)")
    MINIMUM_VIEILLESSE = "aspa", _l("Minimum old-age pension (ASPA)")
    CSS = "css", _l("Complementary health cover (CSS)")
    YOUNG_PERSON = "young_person", _l("Young person in a support programme")
    ASYLUM_REFUGEE = "asylum_refugee", _l("Asylum seeker or refugee")
    OTHER = "other", _l("Other (justification required)")


class Beneficiary(db.Model):
    """A person registered by a social worker, owned by that worker's structure. Minimum data."""

    __tablename__ = "beneficiaries"
    __table_args__ = (
        sa.CheckConstraint("birth_year >= 1900 AND birth_year <= 2100", name="birth_year_range"),
        sa.CheckConstraint("ground != 'other' OR justification IS NOT NULL", name="other_needs_justification"),
        sa.Index("ix_beneficiaries_duplicate_check", "name_key", "birth_year"),
        sa.CheckConstraint("sms_consent_at IS NULL OR sms_phone IS NOT NULL", name="sms_consent_has_number"),
        sa.Index("ix_beneficiaries_sms_phone", "sms_phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    display_name: Mapped[str] = mapped_column(sa.String(80))
    name_key: Mapped[str] = mapped_column(sa.String(80))  # folded name, for the duplicate warning
    birth_year: Mapped[int] = mapped_column(sa.SmallInteger)
    language: Mapped[str] = mapped_column(sa.String(8))
    phone: Mapped[str | None] = mapped_column(sa.String(20))  # E.164
    # Texts go only to a number the person agreed to receive them on (recorded by their worker);
    # a STOP reply or the worker turns it off.
    sms_phone: Mapped[str | None] = mapped_column(sa.String(20))  # E.164
    sms_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email: Mapped[str | None] = mapped_column(sa.String(254))
    ground: Mapped[EligibilityGround] = mapped_column(enum_column(EligibilityGround, "eligibility_ground"))
    justification: Mapped[str | None] = mapped_column(sa.String(200))
    duplicate_override_reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship()
    codes: Mapped[list["EligibilityCode"]] = relationship(
        back_populates="beneficiary", order_by="EligibilityCode.id.desc()"
    )

    @property
    def texts_allowed(self) -> bool:
        """The person agreed to texts on a number, and has not been anonymised."""
        return self.sms_consent_at is not None and bool(self.sms_phone) and self.anonymised_at is None


class CodeState(LabelledEnum):
    """Stored states; `expired` is never stored, it is derived from expires_at."""

    ACTIVE = "active", _l("Active")
    USED = "used", _l("Used")
    EXPIRED = "expired", _l("Expired")
    REVOKED = "revoked", _l("Revoked")


class EligibilityCode(db.Model):
    """An eligibility code (voucher), stored only as a keyed hash."""

    __tablename__ = "eligibility_codes"
    __table_args__ = (
        sa.CheckConstraint("status != 'expired'", name="expired_is_derived"),
        sa.CheckConstraint("expires_at > issued_at", name="expires_after_issue"),
        sa.Index("ix_eligibility_codes_org_status", "organisation_id", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    beneficiary_id: Mapped[int] = mapped_column(sa.ForeignKey("beneficiaries.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    issued_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    categories: Mapped[str] = mapped_column(sa.String(200))  # space-separated CodeCategory values
    status: Mapped[CodeState] = mapped_column(enum_column(CodeState, "code_status"), default=CodeState.ACTIVE)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(sa.String(200))
    replaces_id: Mapped[int | None] = mapped_column(sa.ForeignKey("eligibility_codes.id"))
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    beneficiary: Mapped[Beneficiary] = relationship(back_populates="codes")

    @property
    def category_list(self) -> list[CodeCategory]:
        return [CodeCategory(value) for value in self.categories.split()]

    def allows(self, category: Category) -> bool:
        return CodeCategory.of(category) in self.category_list

    # Each rule below is one expression, for a loaded code and in SQL alike
    # (`EligibilityCode.is_expired(now)` in a WHERE clause).
    @hybrid_method
    def is_expired(self, now: datetime):
        """Active but past its date: expired, no job needed (`expired` is never stored)."""
        return all_of(self.status == CodeState.ACTIVE, self.expires_at <= now)

    @hybrid_method
    def is_valid(self, now: datetime):
        """Active and not past its date."""
        return all_of(self.status == CodeState.ACTIVE, self.expires_at > now)

    def state(self, now: datetime | None = None) -> CodeState:
        """The state a person sees: an active code past its date is expired, no job needed."""
        return CodeState.EXPIRED if self.is_expired(now or utcnow()) else self.status

    def can_reserve(self, reservation=None, now: datetime | None = None) -> bool:
        """Valid, and `reservation` (its latest, if any) does not hold it: the code can reserve now.

        Pages ask this; `services.reservations.reserve` checks the same (and the holder) again.
        """
        now = now or utcnow()
        return self.is_valid(now) and not (reservation is not None and reservation.holds_code(now))
