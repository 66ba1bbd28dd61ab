"""Every message the shop sends, in one place: subject and body for e-mail, a short text for SMS.

A template is rendered at delivery, in the recipient's language, from the JSON values stored with
the message. Interpolated values are bidi-isolated (FSI … PDI) where they could run the other way.
Texts stay within 2 SMS segments in every language (tests/test_outbox.py renders each with long
values): SMS values are shortened to the lengths in SMS_LIMITS.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import format_currency, format_date, format_time, get_timezone
from flask_babel import gettext as _

from shop.i18n import RTL_LANGUAGES
from shop.services import sms as sms_text

FSI, PDI = "\u2068", "\u2069"
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


@dataclass(frozen=True)
class MessageTemplate:
    subject: Callable[["Values"], str]
    body: Callable[["Values"], str]
    sms: Callable[["Values"], str] | None = None  # None: e-mail only (messages to staff accounts)


# --- Values: stored as JSON, shown in the reader's language ------------------------------------

def to_json(values: dict) -> dict:
    """JSON-safe values: datetimes become {"datetime": ISO string}."""
    out = {}
    for key, value in values.items():
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{key}: naive datetime; use timezone-aware UTC")
            value = {"datetime": value.isoformat()}
        elif value is not None and not isinstance(value, (str, int, float, bool)):
            value = str(value)  # a lazy translated label is rendered when queued
        out[key] = value
    return out


class Values:
    """The stored values of one message, formatted for one language and channel."""

    def __init__(self, raw: dict, language: str, *, sms: bool):
        self.raw, self.sms = raw, sms
        self.rtl = language.split("_")[0] in RTL_LANGUAGES

    def _isolate(self, text: str) -> str:
        # In a right-to-left sentence every value is isolated; in a left-to-right one, only a
        # value that holds right-to-left letters (an Arabic name in a French text). Elsewhere the
        # marks would cost nothing in e-mail but force UCS-2 (70 characters a segment) in SMS.
        return f"{FSI}{text}{PDI}" if self.rtl or _RTL.search(text) else text

    def text(self, key: str) -> str:
        value = str(self.raw.get(key) or "")
        limit = SMS_LIMITS.get(key) if self.sms else None
        if limit and len(value) > limit:
            value = value[:limit - 3].rstrip() + "..."  # three dots: "…" is not in the GSM alphabet
        return self._isolate(value)

    def when(self, key: str) -> str:
        moment = datetime.fromisoformat(self.raw[key]["datetime"]).astimezone(get_timezone())
        if self.sms:  # day/month and 24-hour time: short, and read the same way in fr, ar, uk
            return self._isolate(f"{format_date(moment, 'dd/MM')} {format_time(moment, 'HH:mm')}")
        return self._isolate(f"{format_date(moment, 'long')}, {format_time(moment, 'short')}")

    def day(self, key: str) -> str:
        moment = datetime.fromisoformat(self.raw[key]["datetime"]).astimezone(get_timezone())
        return self._isolate(format_date(moment, "dd/MM/yyyy" if self.sms else "long"))

    def money(self, key: str) -> str:
        return self._isolate(format_currency(int(self.raw[key]) / 100, "EUR"))

    def number(self, key: str) -> str:
        return self._isolate(str(int(self.raw[key])))

    def link(self, key: str) -> str:
        return str(self.raw[key])  # on its own or at the end: never isolated, so it stays clickable


# In a text, long names are shortened; the e-mail keeps them whole.
SMS_LIMITS = {"point": 20, "town": 18, "category": 18, "name": 20}


# --- The messages -----------------------------------------------------------------------------

TEMPLATES: dict[str, MessageTemplate] = {
    "reservation_confirmed": MessageTemplate(
        subject=lambda v: _("Your reservation %(number)s", number=v.text("number")),
        body=lambda v: _(
            "Hello %(name)s,\n\nYour device %(device)s is reserved.\nPickup code: %(code)s\n"
            "Where: %(point)s, %(address)s, %(town)s\nPick it up before: %(deadline)s\n"
            "Bring your slip or your code and an identity document.",
            name=v.text("name"), device=v.text("device"), code=v.text("pickup_code"), point=v.text("point"),
            address=v.text("address"), town=v.text("town"), deadline=v.when("deadline")),
        sms=lambda v: _("Device reserved. Pickup code %(code)s at %(point)s, %(town)s, before %(deadline)s. "
                        "Bring an ID.", code=v.text("pickup_code"), point=v.text("point"),
                        town=v.text("town"), deadline=v.when("deadline")),
    ),
    "reservation_confirmed_at": MessageTemplate(
        subject=lambda v: _("Your reservation %(number)s", number=v.text("number")),
        body=lambda v: _(
            "Hello %(name)s,\n\nYour device %(device)s is reserved.\nPickup code: %(code)s\n"
            "Where: %(point)s, %(address)s, %(town)s\nWhen: %(when)s\n"
            "Bring your slip or your code and an identity document.",
            name=v.text("name"), device=v.text("device"), code=v.text("pickup_code"), point=v.text("point"),
            address=v.text("address"), town=v.text("town"), when=v.when("when")),
        sms=lambda v: _("Device reserved. Pickup code %(code)s at %(point)s, %(town)s, on %(when)s. Bring an ID.",
                        code=v.text("pickup_code"), point=v.text("point"), town=v.text("town"), when=v.when("when")),
    ),
    "reservation_ready": MessageTemplate(
        subject=lambda v: _("Your device is ready: reservation %(number)s", number=v.text("number")),
        body=lambda v: _(
            "Hello %(name)s,\n\nYour device is ready. Come to %(point)s, %(address)s, %(town)s before "
            "%(deadline)s with your pickup code %(code)s and an identity document.",
            name=v.text("name"), point=v.text("point"), address=v.text("address"), town=v.text("town"),
            deadline=v.when("deadline"), code=v.text("pickup_code")),
        sms=lambda v: _("Your device is ready at %(point)s, %(town)s. Come before %(deadline)s with code "
                        "%(code)s and an ID.", point=v.text("point"), town=v.text("town"),
                        deadline=v.when("deadline"), code=v.text("pickup_code")),
    ),
    "pickup_reminder": MessageTemplate(
        subject=lambda v: _("Reminder: pick up reservation %(number)s", number=v.text("number")),
        body=lambda v: _("Reservation %(number)s (%(name)s) must be picked up before %(deadline)s, at %(point)s.",
                         number=v.text("number"), name=v.text("name"), deadline=v.when("deadline"),
                         point=v.text("point")),
        sms=lambda v: _("Reminder: pick up your device at %(point)s before %(deadline)s. Code %(code)s.",
                        point=v.text("point"), deadline=v.when("deadline"), code=v.text("pickup_code")),
    ),
    "code_ending": MessageTemplate(
        subject=lambda v: _("Reminder: your code ends soon"),
        body=lambda v: _(
            "Hello %(name)s,\n\nYour code ends on %(date)s. Reserve a device before that day: "
            "%(link)s\nDo you need more time? Ask your social worker.",
            name=v.text("name"), date=v.day("expires_at"), link=v.link("link")),
        sms=lambda v: _("Your code for the Solidarity Shop ends on %(date)s. Reserve a device before then: %(link)s",
                        date=v.day("expires_at"), link=v.link("link")),
    ),
    "code_ending_worker": MessageTemplate(
        subject=lambda v: _("Reminder: an eligibility code ends soon"),
        body=lambda v: _("The eligibility code of %(name)s ends on %(date)s. You can extend it from their page.",
                         name=v.text("name"), date=v.day("expires_at")),
    ),
    "invitation": MessageTemplate(
        subject=lambda v: _("You are invited to Solidarity Shop"),
        body=lambda v: _("Hello %(name)s,\n\nAn account was created for you. To choose your password, open this "
                         "link within 7 days:\n%(link)s", name=v.text("name"), link=v.link("link")),
    ),
    "invitation_partner": MessageTemplate(
        subject=lambda v: _("Your account on the Solidarity Shop"),
        body=lambda v: _(
            "Hello %(name)s,\n\n%(inviter)s invites you to the partner space of the Solidarity Shop "
            "for %(structure)s.\n\nTo choose your password, open this link within 7 days:\n%(link)s\n",
            name=v.text("name"), inviter=v.text("inviter"), structure=v.text("structure"), link=v.link("link")),
    ),
    "password_reset": MessageTemplate(
        subject=lambda v: _("Choose a new password"),
        body=lambda v: _("Hello %(name)s,\n\nTo choose a new password, open this link within 2 hours:\n%(link)s\n\n"
                         "If you did not ask for it, you can ignore this message.",
                         name=v.text("name"), link=v.link("link")),
    ),
    "waitlist_joined": MessageTemplate(
        subject=lambda v: _("You are in the queue for %(category)s", category=v.text("category")),
        body=lambda v: _(
            "Hello,\n\nYou are in the queue for %(category)s at %(point)s. Your place: %(place)s.\n"
            "When a device is back, it is held for the first person in line. We will tell you when it is your turn.",
            category=v.text("category"), point=v.text("point"), place=v.number("place")),
        sms=lambda v: _("You are number %(place)s in the queue for %(category)s at %(point)s. We will text you "
                        "when it is your turn.", place=v.number("place"), category=v.text("category"),
                        point=v.text("point")),
    ),
    "waitlist_turn": MessageTemplate(
        subject=lambda v: _("It is your turn: %(category)s is held for you", category=v.text("category")),
        body=lambda v: _(
            "Hello,\n\nIt is your turn: %(category)s is held for you at %(point)s, %(address)s, %(town)s, "
            "until %(until)s.\nPrice: %(price)s.\nReserve it with your code:\n%(link)s\n"
            "After that time, it goes to the next person in line.",
            category=v.text("category"), point=v.text("point"), address=v.text("address"), town=v.text("town"),
            until=v.when("hold_until"), price=v.money("price_cents"), link=v.link("link")),
        sms=lambda v: _("Your turn: %(category)s held for you at %(point)s until %(until)s. Reserve with your "
                        "code: %(link)s", category=v.text("category"), point=v.text("point"),
                        until=v.when("hold_until"), link=v.link("link")),
    ),
    "waitlist_turn_ended": MessageTemplate(
        subject=lambda v: _("Your turn for %(category)s has ended", category=v.text("category")),
        body=lambda v: _(
            "Hello,\n\nThe time to reserve %(category)s at %(point)s has run out. The device went to the next "
            "person. You can join the queue again.", category=v.text("category"), point=v.text("point")),
        sms=lambda v: _("Time is up for %(category)s at %(point)s. The device went to the next person. You can "
                        "join the queue again.", category=v.text("category"), point=v.text("point")),
    ),
    "slot_chosen": MessageTemplate(
        subject=lambda v: _("Your pickup time: %(when)s", when=v.when("when")),
        body=lambda v: _("Hello %(name)s,\n\nCome to %(point)s, %(town)s on %(when)s with your pickup code "
                         "%(code)s and an identity document.", name=v.text("name"), point=v.text("point"),
                         town=v.text("town"), when=v.when("when"), code=v.text("pickup_code")),
        sms=lambda v: _("Pickup time: %(when)s at %(point)s, %(town)s. Code %(code)s. Bring an ID.",
                        when=v.when("when"), point=v.text("point"), town=v.text("town"), code=v.text("pickup_code")),
    ),
    "slot_closed": MessageTemplate(
        subject=lambda v: _("Choose a new pickup time"),
        body=lambda v: _("Hello %(name)s,\n\n%(point)s is closed at your pickup time (%(when)s). Your device "
                         "is still reserved. Please choose a new time from your reservation page.",
                         name=v.text("name"), point=v.text("point"), when=v.when("when")),
        sms=lambda v: _("%(point)s is closed on %(when)s. Your device is still reserved: please choose a new "
                        "pickup time.", point=v.text("point"), when=v.when("when")),
    ),
    "slot_closed_worker": MessageTemplate(
        subject=lambda v: _("A pickup time was cancelled"),
        body=lambda v: _("%(point)s is closed at the pickup time of %(name)s (reservation %(number)s, %(when)s). "
                         "We cannot send them a message. The device is still reserved: please tell them, and "
                         "choose a new time with them:\n%(link)s",
                         point=v.text("point"), name=v.text("name"), number=v.text("number"), when=v.when("when"),
                         link=v.link("link")),
    ),
    "pickup_missed": MessageTemplate(
        subject=lambda v: _("Reservation %(number)s was not picked up", number=v.text("number")),
        body=lambda v: _("Hello %(name)s,\n\nNobody came for reservation %(number)s at %(point)s. The device is "
                         "back on sale. Your social worker can reserve again for you.",
                         name=v.text("name"), number=v.text("number"), point=v.text("point")),
        sms=lambda v: _("Your device at %(point)s was not picked up and is back on sale. Your social worker "
                        "can reserve again for you.", point=v.text("point")),
    ),
}


def render(key: str, raw_values: dict, language: str, *, sms: bool) -> Rendered:
    """The message in the current locale (the caller sets it with force_locale)."""
    template = TEMPLATES[key]
    values = Values(raw_values, language, sms=sms)
    if sms:
        if template.sms is None:
            raise ValueError(f"{key} has no SMS text")
        return Rendered(subject="", body=sms_text.plain(template.sms(values)))
    return Rendered(subject=template.subject(values), body=template.body(values))
