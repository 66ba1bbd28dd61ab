"""Passing the second sign-in step in a real browser, as a person with an authenticator app would.

The demo staff and admin accounts have no second factor yet: the first sign-in sets it up,
reading the key shown as text on the page. The keys are remembered here for the later sign-ins
of the same test session (the live server's database lives as long as the session)."""

import re
import time

import pyotp
from playwright.sync_api import expect

SECRETS: dict[str, str] = {}
_last_step: dict[str, int] = {}
SETUP = re.compile(r"/account/two-factor/setup$")
CODE = re.compile(r"/login/code$")


def fresh_code(email: str) -> str:
    """A code of a time step not used yet by this account (a code works only once)."""
    step = max(int(time.time()) // 30, _last_step.get(email, -1) + 1)
    while step > int(time.time()) // 30 + 1:
        time.sleep(1)
    _last_step[email] = step
    return pyotp.TOTP(SECRETS[email]).at(step * 30)


def enrol(page, email: str) -> list[str]:
    """On the set-up page: copy the key into "the app", confirm with its code; returns the
    recovery codes shown, and leaves the page after them."""
    SECRETS[email] = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.locator("#code").fill(fresh_code(email))
    page.locator("main form button[type=submit]").click()
    expect(page.locator("ul.recovery-codes li")).to_have_count(10)
    return page.locator("ul.recovery-codes li").all_inner_texts()


def type_code(page, email: str) -> None:
    page.locator("#code").fill(fresh_code(email))
    page.locator("main form button[type=submit]").click()


def pass_second_step(page, email: str) -> None:
    """After a right password: set up the second factor, or type a code, whichever is asked."""
    page.wait_for_load_state()
    if SETUP.search(page.url):
        enrol(page, email)
        page.locator("main a.button").click()
    elif CODE.search(page.url):
        type_code(page, email)
