"""The lock files still satisfy pyproject.toml: a range changed without `bash .ci/lock` fails here, before a
fresh machine installs versions that the package's own metadata refuses."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers import ROOT

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)")


def pins(lock: Path) -> dict[str, str]:
    """name → exact version of every package a lock file pins."""
    found = {}
    for line in lock.read_text().splitlines():
        if match := PIN.match(line):
            found[canonicalize_name(match[1])] = match[2]
    return found


def requirements(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"])
    for extra in extras:
        names += project["optional-dependencies"][extra]
    build = [line for line in (ROOT / ".ci/build.in").read_text().splitlines() if line and not line.startswith("#")]
    return [Requirement(name) for name in names + build]


@pytest.mark.parametrize(("lock", "extras"), [("requirements.lock", ()), ("requirements-dev.lock", ("dev",))])
def test_the_lock_satisfies_pyproject(lock: str, extras: tuple[str, ...]) -> None:
    pinned = pins(ROOT / lock)
    unmet = [
        f"{requirement} (locked: {pinned.get(canonicalize_name(requirement.name), 'missing')})"
        for requirement in requirements(*extras)
        if requirement.marker is None or requirement.marker.evaluate()
        if pinned.get(canonicalize_name(requirement.name)) not in requirement.specifier
    ]
    assert not unmet, f"{lock} no longer satisfies pyproject.toml; refresh it with `bash .ci/lock`: {unmet}"


def test_the_bot_runs_what_the_tests_ran() -> None:
    """Every package the bot installs is locked at the version the tests install."""
    runtime, dev = pins(ROOT / "requirements.lock"), pins(ROOT / "requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_every_pin_has_hashes() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / lock).read_text()
        pinned = len(pins(ROOT / lock))
        assert pinned > 10 and len(re.findall(r"==[^\n]*\\\n\s+--hash=sha256:", text)) == pinned, lock
