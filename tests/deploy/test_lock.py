"""The dependency lock checked offline: uv.lock was resolved from pyproject.toml's current
requirements and meets every one of them, every locked file has a hash, and the other pinned
files (the installer, the bench's extras) agree with it."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "uv.lock"
UV_REQUIREMENTS = ROOT / "requirements" / "uv.txt"
BENCH_REQUIREMENTS = ROOT / "bench" / "requirements.txt"

Toml = dict[str, Any]


def load(path: Path) -> Toml:
    """A TOML file."""
    with path.open("rb") as handle:
        return tomllib.load(handle)


def declared(pyproject: Toml) -> Iterator[tuple[str, Requirement]]:
    """(extra or "", requirement) for every dependency of the project and of its extras."""
    project = pyproject["project"]
    for text in project["dependencies"]:
        yield "", Requirement(text)
    for extra, texts in project.get("optional-dependencies", {}).items():
        for text in texts:
            yield extra, Requirement(text)


def root_package(lock: Toml, name: str) -> Toml:
    """The lock's entry for the project itself."""
    (package,) = (p for p in lock["package"] if p["name"] == name)
    return dict(package)


def requirement_key(extra: str, requirement: Requirement) -> tuple[str, str, str]:
    """Name, specifier and extra of a requirement, normalised so pyproject and lock compare."""
    return (
        canonicalize_name(requirement.name),
        ",".join(sorted(str(s) for s in requirement.specifier)),
        extra,
    )


def locked_key(entry: Toml) -> tuple[str, str, str]:
    """:func:`requirement_key` of one ``requires-dist`` entry of the lock."""
    extra = re.search(r"extra == '([^']+)'", entry.get("marker", ""))
    specifier = Requirement(f"x{entry.get('specifier', '')}").specifier
    return (
        canonicalize_name(entry["name"]),
        ",".join(sorted(str(s) for s in specifier)),
        extra.group(1) if extra else "",
    )


def disagreements(pyproject: Toml, lock: Toml) -> list[str]:
    """Every way the lock fails pyproject.toml: resolved from other requirements, or a locked
    version outside a requirement's range, or a requirement with nothing locked."""
    problems = []
    project = root_package(lock, pyproject["project"]["name"])
    wanted = {requirement_key(extra, r) for extra, r in declared(pyproject)}
    recorded = {locked_key(e) for e in project.get("metadata", {}).get("requires-dist", [])}
    for name, specifier, extra in sorted(wanted - recorded):
        problems.append(f"{name}{specifier} ({extra or 'base'}) is not what the lock resolved")
    for name, specifier, extra in sorted(recorded - wanted):
        problems.append(f"the lock resolved {name}{specifier} ({extra or 'base'}), gone now")
    versions: dict[str, list[str]] = {}
    for package in lock["package"]:
        versions.setdefault(canonicalize_name(package["name"]), []).append(package["version"])
    for extra, requirement in declared(pyproject):
        locked = versions.get(canonicalize_name(requirement.name))
        if not locked:
            problems.append(f"{requirement} ({extra or 'base'}) is not in the lock")
            continue
        problems.extend(
            f"{requirement} ({extra or 'base'}) but the lock has {version}"
            for version in locked
            if not requirement.specifier.contains(Version(version), prereleases=True)
        )
    return problems


def with_requirement(pyproject: Toml, old: str, new: str) -> Toml:
    """``pyproject`` with the base requirement ``old`` replaced by ``new`` (removed if empty)."""
    project = dict(pyproject["project"])
    project["dependencies"] = [new if r == old else r for r in project["dependencies"]]
    project["dependencies"] = [r for r in project["dependencies"] if r]
    return {**pyproject, "project": project}


def base_requirement(pyproject: Toml, name: str) -> str:
    """The base requirement on ``name`` as pyproject.toml spells it."""
    (text,) = (t for t in pyproject["project"]["dependencies"] if Requirement(t).name == name)
    return str(text)


def test_lock_agrees_with_pyproject() -> None:
    """uv.lock was resolved from today's pyproject.toml and meets every requirement in it."""
    assert disagreements(load(PYPROJECT), load(LOCK)) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("aiohttp", "aiohttp>=99", "aiohttp>=99 (base) but the lock has"),
        ("aiohttp", "aiohttp>=99", "aiohttp>=99 (base) is not what the lock resolved"),
        ("aiohttp", "", "the lock resolved aiohttp>=3.14.4 (base), gone now"),
        ("aiohttp", "aiohttp-nonexistent>=1", "aiohttp-nonexistent>=1 (base) is not in the lock"),
    ],
    ids=["bound-above-lock", "bound-changed", "dependency-dropped", "dependency-added"],
)
def test_a_pyproject_the_lock_does_not_fit_is_caught(old: str, new: str, expected: str) -> None:
    """A raised lower bound, a dropped or an added dependency each make the check fail."""
    pyproject = load(PYPROJECT)
    changed = with_requirement(pyproject, base_requirement(pyproject, old), new)
    problems = disagreements(changed, load(LOCK))
    assert any(p.startswith(expected) for p in problems), problems


def test_every_locked_file_has_a_hash() -> None:
    """Each registry package in the lock carries a sha256 for every file it may install."""
    for package in load(LOCK)["package"]:
        if "registry" not in package["source"]:
            continue
        files = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
        assert files, package["name"]
        for file in files:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", file["hash"]), (package["name"], file)


def pins(path: Path) -> dict[str, tuple[str, set[str]]]:
    """name → (version, hashes) of a ``pip --require-hashes`` requirements file."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    found: dict[str, tuple[str, set[str]]] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split(" --hash=")
        name, _, version = requirement.strip().partition("==")
        assert version, f"{path.name}: {line!r} is not pinned with =="
        hashes = {o.strip() for o in options}
        assert hashes, f"{path.name}: {name} has no hash"
        found[canonicalize_name(name)] = (version.split(";")[0].strip(), hashes)
    return found


def test_bench_requirements_are_the_locks_pins() -> None:
    """bench/requirements.txt pins each package at the locked version, accepting its files."""
    locked: dict[tuple[str, str], set[str]] = {
        (canonicalize_name(p["name"]), p["version"]): {
            f["hash"] for f in [*p.get("wheels", []), *([p["sdist"]] if "sdist" in p else [])]
        }
        for p in load(LOCK)["package"]
    }
    bench = pins(BENCH_REQUIREMENTS)
    assert "python-facebook-api" in bench
    for name, (version, hashes) in bench.items():
        assert (name, version) in locked, f"{name}=={version} is not the locked version"
        assert locked[name, version] <= hashes, f"{name}: files of the lock it would refuse"


def test_the_installer_is_pinned_with_hashes() -> None:
    """requirements/uv.txt pins uv alone, exactly, with the hashes of its files."""
    assert set(pins(UV_REQUIREMENTS)) == {"uv"}
