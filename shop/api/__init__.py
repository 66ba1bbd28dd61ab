"""The HTTP API for refurbishers, donors and partner structures' software, at /api/v1/.

flask-smorest builds the OpenAPI 3.1 document from the marshmallow schemas of `schemas.py`
(see README, "API"). Tokens only: the API is exempt from CSRF and never reads the session.
"""

import http

from flask import Flask, request
from flask_smorest import Api
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from shop.api import problems
from shop.services.errors import Conflict, DomainError, NotFound

PREFIX = "/api/v1"


class ShopApi(Api):
    """flask-smorest's Api without its app-wide error handlers: the shop's pages keep their own
    error pages, and the API answers problem details (`problems.py`) for paths under /api/v1/,
    documented as such."""

    def _register_error_handlers(self):
        pass

    def _register_responses(self):
        from flask_smorest.utils import prepare_response

        from shop.api.schemas import Problem

        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = Problem
            prepare_response(response, self.spec, problems.MEDIA_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "A problem (RFC 9457)", "schema": Problem}
        prepare_response(response, self.spec, problems.MEDIA_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def init_app(app: Flask) -> None:
    from shop.api import docs
    from shop.api.views import bp
    from shop.extensions import csrf

    app.config.setdefault("API_TITLE", "Solidarity Shop API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": "Batches, devices and erasure records for refurbishers; batches and report for "
                                "donors; codes for partner structures. Guide: docs/API.md."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    })
    api = app.extensions["shop_api"] = ShopApi(app)
    csrf.exempt(bp)
    api.register_blueprint(bp)
    app.register_blueprint(docs.bp)
    _answer_problems_under_the_api(app)



def _answer_problems_under_the_api(app: Flask) -> None:
    """Errors raised before any API view runs (unknown path, wrong method, body too large,
    database down, a bug) are answered as problem details too, for paths under /api/v1/."""
    handlers = app.error_handler_spec[None][None]
    for exception in (HTTPException, OperationalError, InterfaceError, Exception):
        page = handlers.get(exception)

        def handler(error, page=page):
            if request.path == PREFIX or request.path.startswith(PREFIX + "/") and not request.path.startswith(
                    docs_prefix()):
                if isinstance(error, HTTPException):
                    return problems.for_http_error(error)
                app.logger.exception("API error on %s", request.path)
                from shop.extensions import rollback_quietly

                rollback_quietly()
                return problems.problem(503 if isinstance(error, (OperationalError, InterfaceError)) else 500)
            return page(error)

        app.register_error_handler(exception, handler)


def docs_prefix() -> str:
    return PREFIX + "/docs"
