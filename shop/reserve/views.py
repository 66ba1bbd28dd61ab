"""The beneficiary's journey: enter a code, reserve, pay, follow — no account, no e-mail needed."""

import secrets

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from sqlalchemy.exc import OperationalError

from shop import ratelimits
from shop.extensions import db
from shop.i18n import current_language
from shop.forms import refuse
from shop.models import Category, EligibilityCode, PaymentMethod, WaitlistStatus
from shop.reserve.forms import CancelForm, CodeForm, ReserveForm, TurnForm, WaitlistForm
from shop.services import catalog, codes, payments, qr, reservations, slots, waitlist
from shop.services.errors import DomainError, NotFound
from shop.models.stock import OFFER_KEY_LENGTH, looks_like_offer_key
from shop.models.types import utcnow
from shop.pagecache import shown_pickup_point
from shop.services.reservations import SoldOut, UnknownCode

bp = Blueprint("reserve", __name__, url_prefix="/reserve")

CODE_SESSION_KEY = "code_id"
TYPED_CODE_KEY = "typed_code"


def _code_from_link():
    """The QR code on a slip opens /reserve?code=…: the code goes into the session (shown grouped,
    as on the slip) and the browser moves at once to the clean URL, so that the code stays out of
    history, proxies and referrers (the access logs take it out too: shop/accesslog.py). Opening
    the code is still the person's own step: a link alone never counts as an attempt."""
    typed = codes.normalise(request.args.get("code", "")[:64])
    if typed:
        session[TYPED_CODE_KEY] = codes.display(typed)
    args = {name: request.args[name][:limit] for name, limit in (("offer", 16), ("then", 200))
            if request.args.get(name)}
    response = redirect(url_for("reserve.enter_code", **args), code=303)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _session_key() -> str:
    """Rate-limit key for one browser session (in addition to the address)."""
    if "rl" not in session:
        session["rl"] = secrets.token_urlsafe(8)
    return "session:" + session["rl"]


def current_code() -> EligibilityCode | None:
    return _code_in_session(with_live_reservation=False)[0]


def _code_in_session(*, with_live_reservation: bool):
    """The code this browser entered and, when asked, its running reservation (else None)."""
    code_id = session.get(CODE_SESSION_KEY)
    code, live = None, None
    if isinstance(code_id, int):
        if with_live_reservation:
            code, live = reservations.code_and_live_reservation(code_id)
        else:
            code = codes.get(code_id)
    if code_id is not None and code is None:
        session.pop(CODE_SESSION_KEY, None)
    return code, live


def _require_code(*, with_live_reservation: bool = False):
    """(code, its running reservation if asked for, None), or (None, None, a redirect to the
    code form) when this browser has no code."""
    code, live = _code_in_session(with_live_reservation=with_live_reservation)
    if code is None:
        flash(_("Please enter your code first."), "info")
        offer = (request.view_args or {}).get("offer_key")
        # Only something shaped like an offer key goes back into the address.
        offer = offer if looks_like_offer_key(offer) else None
        return None, None, redirect(url_for("reserve.enter_code", offer=offer), code=303)
    return code, live, None


@bp.route("", methods=["GET", "POST"])
def enter_code():
    if request.method == "GET" and "code" in request.args:
        return _code_from_link()
    typed = session.pop(TYPED_CODE_KEY, "") if request.method == "GET" else ""
    form = CodeForm(data={"code": typed, "offer": request.args.get("offer", "")[:OFFER_KEY_LENGTH],
                          "then": request.args.get("then", "")[:200]}
                    if request.method == "GET" else None)
    status = 200
    limit = current_app.config.get("CODE_RATE_LIMIT", "10 per 15 minutes")
    counted_by = ("address:" + get_remote_address(), _session_key()) if request.method == "POST" else ()
    if counted_by and ratelimits.exhausted(limit, "code-entry", *counted_by):
        abort(429)
    if form.validate_on_submit():
        try:
            codes.parse(form.code.data)  # a typo caught by the check symbol is not an attempt
            # Every well-formed code typed counts, per address and per browser session, before it
            # is looked up: guesses sent in parallel get no more tries than guesses one by one.
            if not ratelimits.take(limit, "code-entry", *counted_by):
                abort(429)
            code = reservations.open_code(form.code.data)
        except UnknownCode as error:
            form.code.errors.append(error.message)
            status = 422
        except DomainError as error:
            form.code.errors.append(error.message)
        else:
            session[CODE_SESSION_KEY] = code.id
            offer = form.offer.data
            # Back to the offer, on sale or sold out meanwhile (that page then offers similar ones).
            if offer and looks_like_offer_key(offer) and catalog.offer_category(offer) is not None:
                return redirect(url_for("reserve.confirm", offer_key=offer), code=303)
            then = form.then.data or ""
            if then.startswith(url_for("reserve.join_waitlist")) and "//" not in then and "\\" not in then:
                return redirect(then, code=303)  # only back to our own waitlist form
            return redirect(url_for("reserve.me"), code=303)
    elif request.method == "POST":
        status = 400 if not form.code.errors else 200
    response = make_response(render_template("reserve/enter_code.html", form=form), status)
    response.headers["Referrer-Policy"] = "no-referrer"  # the page may show a code from a QR
    return response


@bp.get("/me")
def me():
    code, _live, redirect_response = _require_code()
    if redirect_response:
        return redirect_response
    reservation = reservations.latest_reservation(code.id)
    entries = waitlist.for_code(code.id)
    return render_template("reserve/me.html", code=code, reservation=reservation, cancel_form=CancelForm(),
                           entries=entries, places=waitlist.places(entries), now=utcnow())


@bp.post("/forget")
def forget():
    session.pop(CODE_SESSION_KEY, None)
    flash(_("This phone or computer no longer remembers your code."), "success")
    return redirect(url_for("catalog.home"), code=303)


@bp.route("/offer/<offer_key>", methods=["GET", "POST"])
def confirm(offer_key: str):
    code, held, redirect_response = _require_code(with_live_reservation=True)
    if redirect_response:
        return redirect_response
    if held is not None:
        flash(_("You already have a reservation with this code. Cancel it first if you want another device."), "info")
        return redirect(url_for("reserve.me"), code=303)
    offer = catalog.get_offer(offer_key) if looks_like_offer_key(offer_key) else None
    if offer is None:
        category = catalog.offer_existed(offer_key) if looks_like_offer_key(offer_key) else None
        if category is None:
            abort(404)
        return render_template("reserve/sold_out.html", category=category,
                               alternatives=reservations.alternatives(category, exclude=offer_key)), 410
    form = ReserveForm(online=payments.enabled())
    status = 200
    if form.validate_on_submit():
        try:
            if form.method.data == PaymentMethod.CARD_ONLINE.value:
                reservation, checkout_url = payments.reserve_and_checkout(
                    code, offer_key, language=current_language(), slot_id=form.slot.data,
                    success_url=url_for("reserve.payment_return", _external=True) + "?session_id={CHECKOUT_SESSION_ID}",
                    cancel_url=url_for("reserve.me", _external=True),
                )
                return redirect(checkout_url, code=303)
            reservation = reservations.reserve(code, offer_key, method=PaymentMethod.COUNTER, slot_id=form.slot.data)
        except SoldOut as error:
            return render_template("reserve/sold_out.html", category=offer.category, message=error.message,
                                   alternatives=error.details.get("alternatives", [])), 409
        except DomainError as error:
            if error.details.get("field") == "slot":  # the time: on its field, with the times still free
                refuse(form, error)
                status = 422
            elif isinstance(error, NotFound):
                abort(404)
            else:
                flash(error.message, "error")
        except OperationalError:  # a lock timeout or a lost connection: nothing was kept
            db.session.rollback()
            flash(_("Many people are reserving right now. Please try again."), "error")
            status = 503
        else:
            return redirect(url_for("reserve.confirmation", number=reservation.number), code=303)
    allowed = code.allows(offer.category)
    point = shown_pickup_point(offer.pickup_point_id)
    return render_template("reserve/confirm.html", offer=offer, form=form, code=code, allowed=allowed, point=point,
                           times=reservations.times_to_choose(point) if point and allowed else None), status


def _own_reservation(number: str, *, with_device: bool = False):
    """The reservation with this number if it was made with the code this browser entered, else
    404. The reservation names its code, so the code itself is not read."""
    code_id = session.get(CODE_SESSION_KEY)
    reservation = reservations.get_by_number(number, with_device=with_device) if isinstance(code_id, int) else None
    if reservation is None or reservation.code_id != code_id:
        abort(404)
    return reservation


@bp.get("/confirmation/<number>")
def confirmation(number: str):
    reservation = _own_reservation(number, with_device=True)
    point = shown_pickup_point(reservation.pickup_point_id)
    return render_template(
        "reserve/confirmation.html", reservation=reservation, cancel_form=CancelForm(),
        pickup_qr=qr.svg(reservation.pickup_code, label=_("Pickup code %(code)s", code=reservation.pickup_code)),
        point=point, slot_days=slots.choices(reservation, point=point),
    )


@bp.post("/slot/<number>")
def choose_slot(number: str):
    """Take (or change) the pickup time of one's reservation: one button per free slot."""
    reservation = _own_reservation(number)
    if CancelForm().validate_on_submit():
        try:
            slots.choose(reservation, request.form.get("slot", type=int))
        except DomainError as error:
            flash(error.message, "error")
        else:
            flash(_("The pickup time is saved."), "success")
    return redirect(url_for("reserve.confirmation", number=reservation.number) + "#slot", code=303)


@bp.get("/payment/return")
def payment_return():
    """Back from Stripe: show the state; only the webhook confirms a payment."""
    code = current_code()
    reservation = reservations.latest_reservation(code.id) if code else None
    if reservation is None:
        return redirect(url_for("reserve.enter_code"), code=303)
    return render_template("reserve/payment_return.html", reservation=reservation)


@bp.post("/cancel/<number>")
def cancel(number: str):
    reservation = _own_reservation(number)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            payments.cancel_and_refund(reservation, reason="cancelled by the beneficiary")
        except DomainError as error:
            flash(error.message, "error")
        else:
            flash(_("Your reservation is cancelled. You can use your code for another device."), "success")
    return redirect(url_for("reserve.me"), code=303)


# --- The waitlist: "Tell me when one is back" ---------------------------------------------------

def waitlist_form(code, formdata=None, **data) -> WaitlistForm:
    """The form to join a queue, offering the kinds of device the code allows and the open points."""
    categories = [c for allowed in code.category_list for c in allowed.device_categories]
    return WaitlistForm(formdata=formdata, categories=categories, points=catalog.active_pickup_points(), data=data)


@bp.route("/waitlist/join", methods=["GET", "POST"])
def join_waitlist():
    code = current_code()
    if code is None:
        flash(_("Please enter your code first."), "info")
        return redirect(url_for("reserve.enter_code", then=request.full_path.rstrip("?")), code=303)
    if request.method == "POST":
        form = waitlist_form(code, request.form)
    else:
        category = request.args.get("category", "")
        point = request.args.get("point", "")
        form = waitlist_form(code, None, category=category if category in {c.value for c in Category} else "",
                             pickup_point=point if point.isdigit() else "")
    status = 200
    if form.validate_on_submit():
        try:
            entry = waitlist.join(code, **form.service_arguments())
        except DomainError as error:
            refuse(form, error)
            status = 422
        else:
            if entry.status == WaitlistStatus.OFFERED:
                flash(_("Good news: one is on sale now and is held for you. Reserve it below."), "success")
            else:
                flash(_("You are in the queue. We will tell you when a device is held for you."), "success")
            return redirect(url_for("reserve.me"), code=303)
    elif request.method == "POST":
        status = 422
    return render_template("reserve/waitlist_join.html", form=form, code=code), status


def _own_entry(entry_id: int):
    code = current_code()
    entry = db.session.get(waitlist.WaitlistEntry, entry_id)
    if code is None or entry is None or entry.code_id != code.id:
        abort(404)
    return entry


@bp.post("/waitlist/<int:entry_id>/leave")
def leave_waitlist(entry_id: int):
    entry = _own_entry(entry_id)
    if CancelForm().validate_on_submit():
        try:
            waitlist.leave(entry)
        except DomainError as error:
            flash(error.message, "error")
        else:
            flash(_("You have left the queue."), "success")
    return redirect(url_for("reserve.me"), code=303)


@bp.route("/turn/<token>", methods=["GET", "POST"])
def turn(token: str):
    """The link sent with a turn: the held unit, reserved in one step with the code."""
    entry = waitlist.by_token(token)
    if entry is None:
        abort(404)
    known = current_code()
    known = known if known is not None and known.id == entry.code_id else None
    form = TurnForm()
    status = 200
    if form.validate_on_submit():
        code = known
        if code is None:
            # The same limit as code entry, counted before the code is looked up (see enter_code).
            limit = current_app.config.get("CODE_RATE_LIMIT", "10 per 15 minutes")
            counted_by = ("address:" + get_remote_address(), _session_key())
            if ratelimits.exhausted(limit, "code-entry", *counted_by):
                abort(429)
            try:
                codes.parse(form.code.data or "")
                if not ratelimits.take(limit, "code-entry", *counted_by):
                    abort(429)
                code = reservations.open_code(form.code.data or "")
            except UnknownCode as error:
                form.code.errors.append(error.message)
                status = 422  # a failed attempt: counted by the rate limits
            except DomainError as error:
                form.code.errors.append(error.message)
                status = 400
            else:
                if code.id != entry.code_id:
                    form.code.errors.append(_("This device is kept for another person. Check the code on your slip."))
                    code, status = None, 422
        if code is not None:
            session[CODE_SESSION_KEY] = code.id
            try:
                reservation = reservations.reserve(code, entry.device.offer_key, method=PaymentMethod.COUNTER,
                                                   turn=entry, slot_id=form.slot.data)
            except DomainError as error:
                if error.details.get("field") != "slot":
                    if isinstance(error, NotFound):
                        abort(404)
                    flash(error.message, "error")
                    return redirect(url_for("reserve.me"), code=303)
                refuse(form, error)  # the time: on its field, the turn still held
                status = 422
            except OperationalError:
                db.session.rollback()
                flash(_("Many people are reserving right now. Please try again."), "error")
                status = 503
            else:
                return redirect(url_for("reserve.confirmation", number=reservation.number), code=303)
    elif request.method == "POST":
        status = 400
    entry = waitlist.by_token(token)
    point = catalog.get_pickup_point(entry.device.pickup_point_id) if entry.device else None
    return render_template("reserve/turn.html", entry=entry, form=form, known=known, now=utcnow(), point=point,
                           times=reservations.times_to_choose(point) if point else None), status
