"""Transaction helpers for services."""

from functools import wraps

from shop.extensions import db


def atomic(service):
    """Run a service in a SAVEPOINT: if it refuses (raises), none of its writes remain,
    while the request's own transaction goes on and is committed once at the edge."""

    @wraps(service)
    def wrapper(*args, **kwargs):
        with db.session.begin_nested():
            return service(*args, **kwargs)

    return wrapper
