"""An offline Twilio: a fake HTTP client for twilio.rest.Client, and signed inbound webhooks."""

import json
import logging
from urllib.parse import urlencode

import requests
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token"
SENDER = "+33700000000"


class FakeTwilioHTTP(HttpClient):
    """Answers Twilio's Messages API. `script` lists what the next calls do: an HTTP status to
    answer with, or "timeout"; once it is used up, every call is accepted (201)."""

    def __init__(self, script=()):
        super().__init__(logger=logging.getLogger("fake-twilio"), is_async=False)
        self.script = list(script)
        self.calls: list[dict] = []
        self.accepted: list[dict] = []

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        self.calls.append({"method": method, "uri": uri, "data": dict(data or {}), "auth": auth})
        step = self.script.pop(0) if self.script else 201
        if step == "timeout":
            raise requests.exceptions.ConnectTimeout("connect timeout")
        if step != 201:
            return Response(step, json.dumps({"code": 20500 if step >= 500 else 21211,
                                              "message": "Internal error" if step >= 500 else "Invalid 'To'",
                                              "status": step}))
        sid = f"SM{len(self.accepted):032d}"
        self.accepted.append({"sid": sid, **dict(data or {})})
        return Response(201, json.dumps({"sid": sid, "status": "queued", "to": (data or {}).get("To"),
                                         "body": (data or {}).get("Body")}))


def signed_inbound(url: str, params: dict, token: str = AUTH_TOKEN) -> tuple[bytes, dict]:
    """A form-encoded inbound message as Twilio posts it, with its X-Twilio-Signature."""
    signature = RequestValidator(token).compute_signature(url, params)
    return urlencode(params).encode(), {"X-Twilio-Signature": signature,
                                        "Content-Type": "application/x-www-form-urlencoded"}
