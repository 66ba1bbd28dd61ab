"""Commands for `flask --app shop …`."""

import click
from flask import Flask, current_app

from shop.extensions import db
from shop.models import Role


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
    def deliver_command(watch: bool, interval: float) -> None:
        """Send the queued messages that are due (for cron every minute, or --watch as a worker)."""
        import time

        from shop.services import outbox

        while True:
            report = outbox.deliver()
            if report.handled or not watch:
                click.echo(f"Sent {report.sent}, to retry {report.retried}, failed {report.failed}, "
                           f"not sent without consent {report.cancelled}.")
            if not watch:
                return
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
    def purge_command() -> None:
        """Anonymise people quiet for the retention period; drop audit entries over a year old,
        device files never confirmed, and photo files that no photo names any more."""
        from shop.services import photos, retention, stock_import

        counts = retention.purge()
        stale_imports = stock_import.forget_expired()
        db.session.commit()
        orphans = photos.sweep_orphans()
        click.echo(f"Anonymised {counts['anonymised']} people; deleted {counts['audit_entries_deleted']} old audit entries.")
        click.echo(f"Deleted {stale_imports} device files left unconfirmed.")
        click.echo(f"Deleted {orphans} photo files that no photo names.")

    @app.cli.command("backup")
    @click.argument("target", type=click.Path(dir_okay=False))
    def backup_command(target: str) -> None:
        """Write a consistent copy of the database to TARGET while the shop keeps running."""
        from pathlib import Path

        from shop.services import backup
        from shop.services.errors import DomainError

        try:
            path = backup.backup(current_app.config["SQLALCHEMY_DATABASE_URI"], Path(target))
        except DomainError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"Backup written to {path}.")
