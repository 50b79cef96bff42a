"""The docs stay true to the code.

Every relative link in README.md and docs/ resolves, and docs/reference.md names every settings
key, CLI command (with its options) and metric (with its labels) that the code defines. The
truth comes from the code: the pydantic settings models, the argparse parser and the metrics
registry are walked, never listed by hand here.
"""

from __future__ import annotations

import argparse
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from listener import cli
from listener.metrics import Metrics
from listener.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
REFERENCE = ROOT / "docs" / "reference.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 200

_FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


# --- reading Markdown ---------------------------------------------------------------------------


def prose(text: str) -> str:
    """``text`` without fenced code, indented code blocks and code spans, where links are not."""
    blocks = re.split(r"\n[ \t]*\n", _FENCE.sub("", text))
    kept = [
        b for b in blocks if not all(_indented(line) for line in b.splitlines() if line.strip())
    ]
    return _CODE_SPAN.sub("", "\n\n".join(kept))


def _indented(line: str) -> bool:
    return line.startswith(("    ", "\t"))


def relative_links(text: str) -> list[str]:
    """Targets of the Markdown links and images of ``text`` that point inside the repository."""
    return [t for t in _LINK.findall(prose(text)) if not _EXTERNAL.match(t)]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading anchor of a page, numbered as GitHub numbers repeated headings."""
    seen: dict[str, int] = {}
    found = set()
    for _, title in _HEADING.findall(_FENCE.sub("", text)):
        base = slug(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def section(text: str, title: str) -> str:
    """The body of the level-2 section ``## title`` (up to the next level-2 heading)."""
    match = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match is not None, f"docs/reference.md has no '## {title}' section"
    return match.group(1)


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row of ``text`` (escaped pipes kept inside a cell)."""
    return [
        [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        for line in text.splitlines()
        if line.lstrip().startswith("|")
    ]


def ticked(cell: str) -> list[str]:
    """The code spans of a table cell, in order."""
    return re.findall(r"`([^`]+)`", cell)


# --- what the code defines ----------------------------------------------------------------------


def _models(annotation: object) -> tuple[str, type[BaseModel]] | None:
    """``("", Model)`` for a model field, ``("[]", Model)`` for a list of models, else None."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        found = [m for a in args if a is not type(None) and (m := _models(a)) is not None]
        return found[0] if found else None
    if origin is list and args:
        inner = _models(args[0])
        return ("[]", inner[1]) if inner is not None else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("", annotation)
    return None


def settings_keys(model: type[BaseModel] = Settings, prefix: str = "") -> Iterator[str]:
    """Every leaf key of the settings tree: ``graph.app_secret``, ``accounts[].hashtags``, …"""
    for name, field in model.model_fields.items():
        nested = _models(field.annotation)
        if nested is None:
            yield f"{prefix}{name}"
        else:
            suffix, inner = nested
            yield from settings_keys(inner, f"{prefix}{name}{suffix}.")


def cli_commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command a user can run, with the parser that reads its options: each subcommand,
    and each command that runs without one (``draw``), not a bare group (``token``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if not _needs_subcommand(sub):
                    yield (*path, name), sub
                yield from cli_commands(sub, (*path, name))


def _needs_subcommand(parser: argparse.ArgumentParser) -> bool:
    return any(
        isinstance(action, argparse._SubParsersAction) and action.required
        for action in parser._actions
    )


def options(parser: argparse.ArgumentParser) -> list[str]:
    """The long options a command accepts (``--help`` aside)."""
    return [
        max(action.option_strings, key=len)
        for action in parser._actions
        if action.option_strings and not isinstance(action, argparse._HelpAction)
    ]


def exposed_name(name: str, kind: str) -> str:
    """The name a metric family is scraped under: counters end in _total, infos in _info."""
    return {"counter": f"{name}_total", "info": f"{name}_info"}.get(kind, name)


def registered_metrics() -> dict[str, set[str]]:
    """Every metric :class:`Metrics` registers, by scraped name, with its label names."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    found: dict[str, set[str]] = {}
    for collector in vars(metrics).values():
        if not hasattr(collector, "collect") or isinstance(collector, CollectorRegistry):
            continue
        declared = set(getattr(collector, "_labelnames", ()))  # a labelled metric's names
        for family in collector.collect():
            labels = declared | set(getattr(family, "_labelnames", ()))  # custom collectors
            labels |= {name for sample in family.samples for name in sample.labels}  # infos
            found[exposed_name(family.name, family.type)] = labels - {"le"}
    # A gauge built with its source (``listener_throttled``, with the governor) is registered
    # later; one sample shows its labels.
    metrics.register_throttled(lambda: [(("buc", "brand"), 0.0)])
    for family in registry.collect():
        name = exposed_name(family.name, family.type)
        if name not in found:
            found[name] = {label for sample in family.samples for label in sample.labels}
            assert found[name], f"{name} shows no labels: give its source a sample"
    return found


# --- the helpers read Markdown as GitHub does ---------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Configuration", "configuration"),
        ("A gone post is not a throttle", "a-gone-post-is-not-a-throttle"),
        ("`[[campaigns]]`: one contest each", "campaigns-one-contest-each"),
        ("Scale: 1,000 feeds, replicas", "scale-1000-feeds-replicas"),
        ("A draw anyone can check (commit–reveal)", "a-draw-anyone-can-check-commitreveal"),
        ("Confirming a `verify_author` winner", "confirming-a-verify_author-winner"),
    ],
)
def test_slug_is_githubs_heading_anchor(heading: str, expected: str) -> None:
    """Headings become the anchors GitHub renders for them."""
    assert slug(heading) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see [ops](docs/operations.md#alerts).", ["docs/operations.md#alerts"]),
        ("![a picture](draw-certificate.png)", ["draw-certificate.png"]),
        ("[uv](https://docs.astral.sh/uv/) and <http://127.0.0.1:9464/metrics>", []),
        ("`[x](not-a-link.md)` in code", []),
        ("```sh\n[x](fenced.md)\n```\n", []),
        ("text\n\n    [x](indented.md)\n", []),
        ("[back](#configuration)", ["#configuration"]),
    ],
)
def test_relative_links_are_read_outside_code(text: str, expected: list[str]) -> None:
    """Links inside code are not links; links to other sites are not checked."""
    assert relative_links(text) == expected


# --- the docs name what the code defines --------------------------------------------------------


def test_every_relative_link_resolves() -> None:
    """Every relative link of README.md and docs/*.md names a file that exists, and an anchor
    it gives names a heading of that page."""
    broken = []
    for page in PAGES:
        for target in relative_links(page.read_text(encoding="utf-8")):
            path, _, anchor = unquote(target).partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif (
                anchor
                and file.suffix == ".md"
                and anchor not in anchors(file.read_text(encoding="utf-8"))
            ):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []


def test_every_settings_key_is_in_the_configuration_reference() -> None:
    """Each key of the settings tree appears, in code, in docs/reference.md's configuration
    section."""
    documented = set(ticked(section(REFERENCE.read_text(encoding="utf-8"), "Configuration")))
    keys = list(settings_keys())
    assert "accounts[].hashtags" in keys  # the walk reaches into lists of models
    assert [key for key in keys if key not in documented] == []


def test_every_metric_is_in_the_metrics_reference_with_its_labels() -> None:
    """Each metric Metrics registers has a row in docs/reference.md's metrics section whose
    labels cell names exactly its labels."""
    rows = {
        ticked(cells[0])[0]: set(ticked(cells[1]))
        for cells in table_rows(section(REFERENCE.read_text(encoding="utf-8"), "Metrics"))
        if len(cells) >= 2 and ticked(cells[0])
    }
    metrics = registered_metrics()
    assert "listener_build_info" in metrics  # the walk reaches the info and live gauges too
    assert [name for name in metrics if name not in rows] == []
    assert {n: rows[n] for n in metrics} == metrics


def test_the_reference_documents_nothing_the_code_lacks() -> None:
    """Every key, metric and command the reference's tables document still exists in the code:
    a renamed or removed one leaves no stale row behind."""
    text = REFERENCE.read_text(encoding="utf-8")
    keys = {
        ticked(cells[0])[0]
        for cells in table_rows(section(text, "Configuration"))
        if cells
        and ticked(cells[0])
        and re.fullmatch(r"[a-z_]+(\[\])?\.[a-z_]+", ticked(cells[0])[0])
    }
    metrics = {
        ticked(cells[0])[0]
        for cells in table_rows(section(text, "Metrics"))
        if cells and ticked(cells[0])
    }
    commands = set(_command_rows())
    assert keys - set(settings_keys()) == set()
    assert metrics - set(registered_metrics()) == set()
    assert commands - {path for path, _ in cli_commands(cli._parser())} == set()


def _command_rows() -> dict[tuple[str, ...], str]:
    """The CLI reference's table rows by the command they document (``listener draw commit …``
    documents ``("draw", "commit")``)."""
    rows = {}
    for cells in table_rows(section(REFERENCE.read_text(encoding="utf-8"), "Command line")):
        if not cells or not ticked(cells[0]):
            continue
        program, *words = ticked(cells[0])[0].split()
        if program != "listener":
            continue
        path: list[str] = []
        for word in words:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            path.append(word)
        rows[tuple(path)] = cells[0]
    return rows


def test_every_cli_command_is_in_the_cli_reference() -> None:
    """Each command and subcommand of the parser has its own row in docs/reference.md's
    command-line section."""
    commands = [path for path, _ in cli_commands(cli._parser())]
    assert ("draw", "commit") in commands  # the walk reaches subcommands
    rows = _command_rows()
    assert [" ".join(path) for path in commands if path not in rows] == []


def test_every_cli_option_is_in_its_command_row() -> None:
    """Each option of a command appears in that command's row of the CLI reference, and the
    global options in the section."""
    parser = cli._parser()
    text = section(REFERENCE.read_text(encoding="utf-8"), "Command line")
    rows = _command_rows()
    missing = [f"listener {option}" for option in options(parser) if option not in text]
    for path, command in cli_commands(parser):
        row = rows.get(path, "")
        missing += [
            f"listener {' '.join(path)} {option}"
            for option in options(command)
            if not re.search(rf"{re.escape(option)}(?![\w-])", row)
        ]
    assert missing == []


def test_readme_names_the_two_commands_within_its_length() -> None:
    """README.md shows `make run` and `make test` and stays short enough to read in minutes."""
    text = README.read_text(encoding="utf-8")
    assert "make run" in text
    assert "make test" in text
    assert len(text.splitlines()) <= README_MAX_LINES
