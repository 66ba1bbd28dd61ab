"""Commands for `flask --app shop …`."""

import click
from flask import Flask, current_app

from shop.extensions import db
from shop.models import Role
from shop.services.cronruns import record_success, scheduled


def register_cli(app: Flask) -> None:
    @app.cli.command("seed-demo")
    @click.option("--devices", default=84, show_default=True, help="How many demo devices.")
    def seed_demo_command(devices: int) -> None:
        """Load realistic demo data (development only; safe to run twice)."""
        if current_app.config["SHOP_ENV"] == "production":
            raise click.ClickException("seed-demo never runs in production.")
        from shop.demo import seed_demo

        counts = seed_demo(devices)
        db.session.commit()
        click.echo("Demo data ready: " + ", ".join(f"{v} {k}" for k, v in counts.items()))

    @app.cli.command("expire-holds")
    @scheduled("expire-holds")
    def expire_holds_command() -> None:
        """Release units whose hold ran out, pass waitlist turns that ran out to the next in line,
        and queue due reminders (safe to run twice; for cron)."""
        from shop.services import reservations, slots, waitlist

        released = reservations.expire_holds()
        db.session.commit()
        slots.materialise_all()  # keep the pickup times of the coming weeks ahead
        db.session.commit()
        turns = waitlist.sweep()
        db.session.commit()
        queued = reservations.queue_due_reminders()
        db.session.commit()  # the reminders are delivered right after (or by `deliver` if that fails)
        click.echo(f"Released {released} expired holds; sent {queued} reminders.")
        click.echo(f"Waitlist: {turns['turns_ended']} turns ran out, {turns['left']} places ended, "
                   f"{turns['offered']} units held for the next in line.")

    @app.cli.command("deliver")
    @click.option("--watch", is_flag=True, help="Keep running: deliver as messages become due.")
    @click.option("--interval", default=5.0, show_default=True, help="Seconds between scans with --watch.")
    @scheduled("deliver")
    def deliver_command(watch: bool, interval: float) -> None:
        """Send the queued messages that are due (for cron every minute, or --watch as a worker)."""
        import time

        from shop.services import outbox, webhooks

        recorded = time.monotonic()
        while True:
            scan = time.monotonic()
            report = outbox.deliver()
            hooks = webhooks.deliver()  # the API's outgoing webhooks, same retries
            if report.handled or not watch:
                click.echo(f"Sent {report.sent}, to retry {report.retried}, failed {report.failed}, "
                           f"not sent without consent {report.cancelled}.")
            if hooks.sent or hooks.retried or hooks.failed or not watch:
                click.echo(f"Webhooks: sent {hooks.sent}, to retry {hooks.retried}, failed {hooks.failed}.")
            if not watch:
                return
            if scan - recorded >= 60:  # a watching worker says it is alive once a minute
                record_success("deliver", scan)
                recorded = scan
            try:
                time.sleep(interval)
            except KeyboardInterrupt:
                return

    @app.cli.command("create-user")
    @click.option("--email", required=True)
    @click.option("--name", required=True)
    @click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
    @click.option("--organisation", help="Name of the partner structure (social workers, partner admins).")
    @click.option("--pickup-point", help="Slug of the pickup point (staff).")
    @click.password_option()
    def create_user_command(email, name, role, organisation, pickup_point, password) -> None:
        """Create an account with a password (for the first admin, or scripts)."""
        import sqlalchemy as sa

        from shop.models import Organisation, PickupPoint
        from shop.services import accounts, twofactor
        from shop.services.errors import DomainError

        org = None
        if organisation:
            org = db.session.scalar(sa.select(Organisation).where(Organisation.name == organisation))
            if org is None:
                raise click.ClickException(f"No structure named {organisation!r}.")
        point_id = None
        if pickup_point:
            point_id = db.session.scalar(sa.select(PickupPoint.id).where(PickupPoint.slug == pickup_point))
            if point_id is None:
                raise click.ClickException(f"No pickup point {pickup_point!r}.")
        try:
            user = accounts.create_user(email=email, name=name, role=Role(role), password=password,
                                        organisation=org, pickup_point_id=point_id)
        except DomainError as error:
            raise click.ClickException(str(error)) from None
        # Created by the operator on the server: the account may set up its second factor at
        # its first sign-in (with the password alone) for a few days.
        twofactor.allow_enrolment_at_sign_in(user)
        db.session.commit()
        click.echo(f"Created {user.role.value} account {user.email}.")
        if twofactor.required_for(user):
            click.echo(f"Two-step sign-in is required: set it up at the first sign-in, within "
                       f"{twofactor.ENROL_WINDOW.days} days.")

    @app.cli.command("totp-code")
    @click.argument("email")
    def totp_code_command(email: str) -> None:
        """Print the current two-step sign-in code of a demo account (development only)."""
        import sqlalchemy as sa

        from shop.config import DEV_SECRET_KEY
        from shop.models import User
        from shop.services import twofactor
        from shop.services.errors import DomainError

        if current_app.config["SHOP_ENV"] != "development" or current_app.config["SECRET_KEY"] != DEV_SECRET_KEY:
            raise click.ClickException("totp-code only runs with the development settings (demo data).")
        user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise click.ClickException(f"No account {email!r}.")
        try:
            click.echo(twofactor.current_code(user))
        except DomainError:
            raise click.ClickException(f"{email} has no two-step sign-in yet: sign in once to set it up.") from None

    @app.cli.command("purge")
    @scheduled("purge")
    def purge_command() -> None:
        """Anonymise people quiet for the retention period; drop audit entries over a year old,
        device files never confirmed, and photo files that no photo names any more."""
        from shop.services import api_tokens, photos, retention, stock_import

        counts = retention.purge()
        stale_imports = stock_import.forget_expired()
        old_answers = api_tokens.forget_old_answers()
        db.session.commit()
        orphans = photos.sweep_orphans()
        click.echo(f"Anonymised {counts['anonymised']} people; deleted {counts['audit_entries_deleted']} old audit entries.")
        click.echo(f"Deleted {stale_imports} device files left unconfirmed.")
        click.echo(f"Deleted {old_answers} stored API answers over a day old (Idempotency-Key).")
        click.echo(f"Deleted {orphans} photo files that no photo names.")

    @app.cli.command("import-devices")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--pickup-point", "point_slug", required=True, help="Slug of the pickup point the devices are at.")
    @click.option("--actor", help="E-mail of the staff account to record as importer (default: the command line).")
    @click.option("--language", default="en", show_default=True, help="Language of the problems reported.")
    def import_devices_command(file: str, point_slug: str, actor: str | None, language: str) -> None:
        """Import a refurbisher's device file (CSV), with the checks of the staff import page:
        every device or none."""
        from pathlib import Path

        import sqlalchemy as sa
        from flask_babel import force_locale

        from shop.models import PickupPoint, User
        from shop.services import stock_import
        from shop.services.errors import DomainError

        point = db.session.scalar(sa.select(PickupPoint).where(PickupPoint.slug == point_slug))
        if point is None:
            raise click.ClickException(f"No pickup point {point_slug!r}.")
        who = "command line"
        if actor:
            who = db.session.scalar(sa.select(User).where(User.email == actor.strip().lower()))
            if who is None:
                raise click.ClickException(f"No account {actor!r}.")
        content = Path(file).read_bytes()
        with force_locale(language):
            click.echo(f"Checking {file} ({len(content):,} bytes) for {point.name}…")
            checked = stock_import.check(content, pickup_point=point)
            if not checked.ok:
                if len(checked.problems) == 1 and checked.problems[0].column is None:
                    # One problem with the whole file (encoding, empty, too big): one line.
                    raise click.ClickException(f"{file}: {checked.problems[0].message} Nothing was imported.")
                for problem in checked.problems:
                    where = ", ".join(part for part in (f"line {problem.line}" if problem.line else "",
                                                        problem.column or "") if part)
                    click.echo(f"{where}: {problem.message}" if where else str(problem.message), err=True)
                raise click.ClickException(f"{len(checked.problems)} problem(s) in {file}: nothing was imported.")
            click.echo(f"{len(checked.rows)} devices checked: no problem. Importing…")
            try:
                imported = stock_import.import_devices(content, pickup_point=point, actor=who)
            except DomainError as error:  # the stock changed meanwhile (a serial number now taken)
                db.session.rollback()
                raise click.ClickException(f"{error} Run the command again to see the problems.") from None
            db.session.commit()
        click.echo(f"Imported {len(imported.rows)} devices at {point.name}.")

    @app.cli.command("backup")
    @click.argument("target", type=click.Path(dir_okay=False))
    @scheduled("backup")
    def backup_command(target: str) -> None:
        """Write a consistent copy of the database to TARGET (mode 0600) while the shop keeps running."""
        from pathlib import Path

        from shop.services import backup
        from shop.services.errors import DomainError

        try:
            path = backup.backup(current_app.config["SQLALCHEMY_DATABASE_URI"], Path(target))
        except DomainError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"Backup written to {path}.")

    @app.cli.command("restore")
    @click.argument("source", type=click.Path(dir_okay=False))
    @click.option("--force", is_flag=True, help="Replace a database that is not empty (stop the shop first).")
    def restore_command(source: str, force: bool) -> None:
        """Put the backup SOURCE in place of the database of DATABASE_URL (all of it or nothing)."""
        from pathlib import Path

        from shop.services import backup
        from shop.services.errors import DomainError

        db.engine.dispose()  # no connection of this process holds the old database open
        try:
            kind = backup.restore(current_app.config["SQLALCHEMY_DATABASE_URI"], Path(source), force=force)
        except DomainError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"Restored the {kind} backup {source}. Run `flask --app shop db upgrade` if it is older "
                   f"than this release.")

    for command in app.cli.commands.values():  # the shop's and Flask-Migrate's (`db upgrade`…)
        _wrap(command)


def _wrap(command: click.Command) -> None:
    for sub in getattr(command, "commands", {}).values():
        _wrap(sub)
    # Flask-Migrate's commands are module-level objects shared by every app: wrap them once.
    if command.callback is not None and not getattr(command.callback, "one_line_errors", False):
        command.callback = _one_line_errors(command.callback)


def _one_line_errors(callback):
    """A command that fails for an operational reason (database unreachable, a file it cannot
    write) exits 1 with one line on stderr, not a traceback: cron mails it, a person reads it."""
    import functools

    from sqlalchemy.exc import DBAPIError, OperationalError

    @functools.wraps(callback)
    def run(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except (OperationalError, DBAPIError) as error:
            db.session.rollback()
            reason = str(getattr(error, "orig", error)).strip().splitlines() or ["no message"]
            address = db.engine.url.render_as_string(hide_password=True)
            if isinstance(error, OperationalError) or getattr(error, "connection_invalidated", False):
                raise click.ClickException(f"the database cannot be reached ({address}): {reason[0].rstrip('.')}. "
                                           f"Check DATABASE_URL and that the server runs.") from None
            raise click.ClickException(f"the database refused the command ({address}): {reason[0]}") from None
        except OSError as error:
            raise click.ClickException(f"{error.strerror or error}: {error.filename or ''}".rstrip(": ")) from None

    run.one_line_errors = True
    return run
