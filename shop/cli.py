"""Commands for `flask --app shop …`."""

import click
from flask import Flask, current_app

from shop.extensions import db


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
