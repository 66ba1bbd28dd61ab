"""README.md stays true: its lists of commands, settings, services and blueprints match the code."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CONFIG = (ROOT / "shop" / "config.py").read_text()


def _section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def _architecture() -> str:
    return _section("Architecture").split("```", 2)[1]


def test_the_command_table_lists_every_shop_command(app):
    rows = re.findall(r"^\| `([a-z][a-z-]+)", _section("Command line"), re.M)
    flask_own = {"routes", "run", "shell", "limiter", "openapi"}  # Flask's and its extensions' own commands
    assert set(rows) == set(app.cli.commands) - flask_own


def test_the_configuration_table_lists_every_setting_read_from_the_environment():
    table = _section("Configuration")
    documented = {name for cell in re.findall(r"^\| ([^|]+)\|", table, re.M)
                  for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}
    read = set(re.findall(r'(?:environ\.get\(|_bool\(|environ\[)["\']([A-Z][A-Z0-9_]+)["\']', CONFIG))
    # Read by gunicorn's own conventions, described in the WEB_CONCURRENCY row.
    read -= {"GUNICORN_CMD_ARGS", "PORT"}
    read |= {"PROMETHEUS_MULTIPROC_DIR"}  # read by prometheus-client itself, in every gunicorn worker
    assert read - documented == set(), "settings missing from the README's table"
    assert documented - read == set(), "settings in the README's table that shop/config.py never reads"


def test_the_architecture_names_every_service_module():
    block = _architecture()
    services = block.split("services/", 1)[1].split("catalog/ pages/", 1)[0]
    named = set(re.findall(r"\b([a-z_]+)\b(?= \(|,|$| —)", services, re.M))
    modules = {p.stem for p in (ROOT / "shop" / "services").glob("*.py") if p.stem != "__init__"}
    assert modules - named == set(), "services missing from the README's architecture"


def test_the_architecture_names_every_blueprint_package():
    line = next(line for line in _architecture().splitlines() if line.strip().startswith("catalog/ pages/"))
    named = {part.rstrip("/") for part in line.split() if part.endswith("/")}
    packages = {p.parent.name for p in (ROOT / "shop").glob("*/__init__.py")
                if "Blueprint(" in p.read_text() or any("Blueprint(" in f.read_text() for f in p.parent.glob("*.py"))}
    assert packages == named
