"""An eligibility code from a slip's QR code never reaches an access log."""

import datetime
import logging

from gunicorn.config import Config

from shop.accesslog import GunicornLogger, redact

CODE = "SRQ8RT85CH792H"


def test_redact_removes_the_code_and_keeps_the_rest():
    assert redact(f"GET /reserve?code={CODE} HTTP/1.1") == "GET /reserve?code=[removed] HTTP/1.1"
    assert redact(f"/reserve?offer=abc&code={CODE.lower()}&x=1") == "/reserve?offer=abc&code=[removed]&x=1"
    assert redact("GET /catalog?category=laptop HTTP/1.1") == "GET /catalog?category=laptop HTTP/1.1"


class _Response:
    status, sent, headers = "303 SEE OTHER", 0, [("Location", "/reserve"), ("X-Request-ID", "4f2a9c01d3")]


def test_gunicorns_access_log_line_holds_no_code():
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/reserve?code={CODE}", "SERVER_PROTOCOL": "HTTP/1.1",
               "PATH_INFO": "/reserve", "QUERY_STRING": f"code={CODE}", "REMOTE_ADDR": "203.0.113.5",
               "HTTP_REFERER": f"https://shop.example/reserve?code={CODE}"}
    logger = GunicornLogger(Config())
    atoms = logger.atoms(_Response(), [("Referer", environ["HTTP_REFERER"])], environ, datetime.timedelta(0))
    line = logger.cfg.access_log_format % logger.atoms_wrapper_class(atoms)
    assert CODE not in line and CODE not in repr(atoms)
    assert "/reserve?code=[removed]" in line
    assert line.endswith(" rid=4f2a9c01d3")  # the request id, as in the shop's own log lines


def test_the_development_servers_log_holds_no_code(app, caplog):
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info('%s - - "%s" %s -', "127.0.0.1", f"GET /reserve?code={CODE} HTTP/1.1", "303")
    assert CODE not in caplog.text and "code=[removed]" in caplog.text


def test_every_header_and_environ_value_with_a_code_parameter_is_redacted_and_others_left_alone():
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/reserve", "SERVER_PROTOCOL": "HTTP/1.1",
               "HTTP_X_ORIGINAL_URI": f"/reserve?CODE={CODE}", "HTTP_USER_AGENT": "Mozilla/5.0 (code)"}
    headers = [("X-Original-URI", environ["HTTP_X_ORIGINAL_URI"]), ("User-Agent", environ["HTTP_USER_AGENT"])]
    atoms = GunicornLogger(Config()).atoms(_Response(), headers, environ, datetime.timedelta(0))
    assert CODE not in repr(atoms)
    assert atoms["{x-original-uri}i"] == atoms["{http_x_original_uri}e"] == "/reserve?CODE=[removed]"
    assert atoms["{user-agent}i"] == "Mozilla/5.0 (code)"
