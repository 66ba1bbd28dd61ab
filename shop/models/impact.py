"""Secret links that let a donor read its own report without an account."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.stock import Donor
from shop.models.types import UTCDateTime, utcnow


class DonorShareLink(db.Model):
    """A read-only link to one donor's report. Only a hash of its token is stored."""

    __tablename__ = "donor_share_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_id: Mapped[int] = mapped_column(sa.ForeignKey("donors.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    donor: Mapped[Donor] = relationship()

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None
