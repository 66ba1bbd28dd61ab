"""The locks in requirements/ agree with pyproject.toml and name no package index (offline checks)."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
LOCKS = {"dev": ROOT / "requirements" / "dev.txt", "prod": ROOT / "requirements" / "prod.txt"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")


def _pins(lock: Path) -> dict[str, list[tuple[Version, str]]]:
    """name -> [(version, marker)]: a universal lock may pin one name twice, for different Pythons."""
    pins: dict[str, list[tuple[Version, str]]] = {}
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match:
            name, version, marker = match.groups()
            pins.setdefault(canonicalize_name(name), []).append((Version(version), (marker or "").strip()))
    return pins


def _requirements(extra: str | None = None) -> list[Requirement]:
    listed = PROJECT["dependencies"] + (PROJECT["optional-dependencies"][extra] if extra else [])
    return [Requirement(text) for text in listed]


def _disagreements(lock: Path, requirements: list[Requirement]) -> list[str]:
    pins = _pins(lock)
    wrong = []
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name not in pins:
            wrong.append(f"{requirement.name} is in pyproject.toml but not in {lock.name}")
            continue
        wrong += [f"{lock.name} pins {requirement.name}=={version}, outside {requirement.specifier}"
                  for version, _ in pins[name] if not requirement.specifier.contains(version, prereleases=True)]
    return wrong


@pytest.mark.parametrize("lock", LOCKS.values(), ids=LOCKS.keys())
def test_the_lock_names_no_address(lock):
    """No index or download address: a rule of the project (and why a uv.lock was refused)."""
    text = lock.read_text()
    assert "://" not in text
    assert not re.search(r"^\s*-(-index-url|-extra-index-url|-find-links|i|f)\b", text, re.M)


@pytest.mark.parametrize("lock", LOCKS.values(), ids=LOCKS.keys())
def test_every_pin_of_the_lock_carries_hashes(lock):
    blocks = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text().split("\n", 2)[2])
    pinned = [block for block in blocks if PIN.match(block.splitlines()[0])]
    assert len(pinned) == sum(len(v) for v in _pins(lock).values()) > 20
    unhashed = [block.split()[0] for block in pinned if "--hash=sha256:" not in block]
    assert not unhashed


def test_the_production_lock_agrees_with_pyproject():
    assert not _disagreements(LOCKS["prod"], _requirements())


def test_the_development_lock_agrees_with_pyproject_and_its_dev_extra():
    assert not _disagreements(LOCKS["dev"], _requirements("dev"))


def test_the_production_lock_leaves_the_dev_tools_out():
    pins = _pins(LOCKS["prod"])
    assert not {canonicalize_name(r.name) for r in _requirements("dev")[len(PROJECT["dependencies"]):]} & set(pins)
    assert "playwright" not in pins and "pytest" not in pins


def test_the_check_catches_a_dependency_the_lock_does_not_know(tmp_path):
    lock = tmp_path / "prod.txt"
    lock.write_text(LOCKS["prod"].read_text().replace("flask==", "flask==2.0.0\n    # was flask=="))
    wrong = _disagreements(lock, _requirements() + [Requirement("no-such-package-here>=0.20,<1")])
    assert wrong[-1] == "no-such-package-here is in pyproject.toml but not in prod.txt"
    assert [line for line in wrong if line.startswith("prod.txt pins Flask==2.0.0, outside")], wrong


def test_every_dependency_has_an_upper_bound():
    """An unbounded range lets `make lock` jump a major version unnoticed."""
    uncapped = [str(r) for r in _requirements("dev") if not any(s.operator in ("<", "<=", "==", "~=") for s in r.specifier)]
    assert not uncapped


def test_uv_is_pinned_and_setup_installs_from_the_dev_lock_with_hashes():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^UV_VERSION := \d+\.\d+\.\d+$", makefile, re.M)
    assert "'uv==$(UV_VERSION)'" in makefile
    assert re.search(r"pip sync [^\n]*--require-hashes[^\n]*--compile-bytecode[^\n]*requirements/dev\.txt", makefile)
    assert "pip install --quiet --no-deps" in makefile


def test_the_production_guide_installs_the_production_lock_with_the_pinned_uv():
    guide = (ROOT / "docs" / "DEPLOY.md").read_text()
    version = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert f"pip install 'uv=={version}'" in guide
    assert re.search(r"uv pip sync --require-hashes --compile-bytecode [^\n]*requirements/prod\.txt", guide)
    assert "install --no-deps" in guide


def test_the_container_image_installs_the_production_lock_with_the_pinned_uv():
    dockerfile = (ROOT / "Dockerfile").read_text()
    version = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert f"'uv=={version}'" in dockerfile and "--require-hashes" in dockerfile and "requirements/prod.txt" in dockerfile
