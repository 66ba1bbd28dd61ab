"""Races for the concurrency tests: every contender in its own thread, app context and database
session, all released at the same instant by a barrier; each one commits or is refused."""

import threading

import sqlalchemy as sa

from shop.services.errors import Conflict, DomainError


def race(app, works: dict) -> dict:
    """Run each callable of `works` (name → callable) at once; returns name → "won" or "lost"."""
    barrier = threading.Barrier(len(works), timeout=30)
    outcomes, lock = {}, threading.Lock()

    def run(name, work):
        from shop.extensions import db

        with app.app_context():
            barrier.wait()
            try:
                work()
                db.session.commit()
                result = "won"
            except (Conflict, DomainError, sa.exc.OperationalError):
                db.session.rollback()
                result = "lost"
            finally:
                db.session.remove()
            with lock:
                outcomes[name] = result

    threads = [threading.Thread(target=run, args=item) for item in works.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def race_each(app, items, work) -> list:
    """`work(item)` for every item at once; the outcomes as a list ("won" / "lost")."""
    items = list(items)
    return list(race(app, {index: (lambda item=item: work(item)) for index, item in enumerate(items)}).values())
