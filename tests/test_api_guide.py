"""docs/API.md: every curl line of the guide runs against the app and answers the status written under it."""

import json
import re
import shlex
from pathlib import Path

from shop.extensions import db as _db
from shop.models import ApiRole, DonorKind, Donor
from shop.services import api_tokens
from tests import factories

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "API.md"


def examples():
    """(curl command, expected status) for each example, continuation lines joined."""
    text = GUIDE.read_text()
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        # A command runs from its `curl` to the "# <status>" line under it (JSON may span lines).
        for command, status in re.findall(r"^(curl .*?)^# (\d{3})", block.replace("\\\n", " "), re.S | re.M):
            found.append((command, int(status)))
    return found


def run(client, command: str, variables: dict):
    for name, value in variables.items():
        command = command.replace(f"${name}", value)
    words = shlex.split(command)[1:]
    method, headers, data, url = "GET", {}, None, None
    while words:
        word = words.pop(0)
        if word == "-s":
            continue
        if word == "-X":
            method = words.pop(0)
        elif word == "-H":
            name, _, value = words.pop(0).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = words.pop(0)
        else:
            url = word
    content_type = headers.pop("Content-Type", None)
    return client.open(url, method=method, headers=headers, data=data, content_type=content_type)


def test_every_curl_example_of_the_guide_answers_as_written(client, db):
    donor = Donor(id=1, name="Eurométropole de Metz", kind=DonorKind.PUBLIC_BODY)
    db.session.add(donor)
    factories.pickup_point(id=1)
    organisation = factories.user().organisation
    variables = {
        "SHOP": "",
        "TOKEN": api_tokens.create(name="r", role=ApiRole.REFURBISHER, donor_ids=[1], actor=None)[1],
        "DONOR_TOKEN": api_tokens.create(name="d", role=ApiRole.DONOR, donor_ids=[1], actor=None)[1],
        "PARTNER_TOKEN": api_tokens.create(name="p", role=ApiRole.PARTNER, organisation_id=organisation.id,
                                           actor=None)[1],
    }
    _db.session.commit()
    cases = examples()
    assert len(cases) >= 12
    for command, status in cases:
        if "export " in command:
            continue
        response = run(client, command, variables)
        assert response.status_code == status, (command[:120], response.get_data(as_text=True)[:300])
        if response.mimetype.endswith("json") and response.status_code != 304:
            json.loads(response.get_data(as_text=True))
