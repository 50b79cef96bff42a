"""Command line: argv → settings → logging → app; exit codes; one-line errors.

Exit codes: 0 success, 1 a failure at run time (printed as one line), 2 bad input (config,
arguments). Bad input never prints a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import structlog

from listener import __version__
from listener.errors import ConfigError, ListenerError
from listener.logs import configure_logging
from listener.settings import Settings, load_settings

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

log = structlog.get_logger("listener.cli")


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments as one line and exit code 2."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"listener: {message}\n")


def _add_contest_commands(commands: Any) -> None:
    """export entrants, contests reevaluate, draw (commit, recheck, verify)."""
    export = commands.add_parser("export", help="export data")
    export_commands = export.add_subparsers(
        dest="export_command", required=True, parser_class=_Parser
    )
    entrants = export_commands.add_parser("entrants", help="a campaign's entrants")
    entrants.add_argument("--config", type=Path, required=True, help="TOML configuration file")
    entrants.add_argument("--campaign", required=True, help="campaign id")
    entrants.add_argument("--format", choices=["csv", "json", "ndjson"], default="csv")
    entrants.add_argument("--output", type=Path, help="file to write (default: stdout)")
    entrants.add_argument(
        "--all", action="store_true", help="also list ineligible media with their reasons"
    )

    contests = commands.add_parser("contests", help="contest maintenance")
    contest_commands = contests.add_subparsers(
        dest="contests_command", required=True, parser_class=_Parser
    )
    reevaluate = contest_commands.add_parser(
        "reevaluate", help="settle contest verdicts: what changed since the last pass"
    )
    reevaluate.add_argument("--config", type=Path, required=True, help="TOML configuration file")
    reevaluate.add_argument("--campaign", help="only this campaign (default: all)")
    reevaluate.add_argument(
        "--full", action="store_true", help="re-judge every stored media, not only what changed"
    )

    draw = commands.add_parser("draw", help="the verifiable draw (see docs/contests.md)")
    draw.add_argument("--config", type=Path, help="TOML configuration file")
    draw.add_argument("--campaign", help="campaign id")
    draw.add_argument("--winners", type=int, help="how many winners")
    draw.add_argument("--alternates", type=int, help="how many alternates (default: as many)")
    draw.add_argument("--seed", help="the seed committed to (its SHA-256 was given to commit)")
    draw.add_argument(
        "--output",
        type=Path,
        help="the draw record (default: <campaign>-draw.json); the certificate goes beside it, "
        "same name with .html",
    )
    draw_commands = draw.add_subparsers(dest="draw_command", parser_class=_Parser)
    commit = draw_commands.add_parser("commit", help="freeze the entrants and the seed's hash")
    commit.add_argument("--config", type=Path, required=True, help="TOML configuration file")
    commit.add_argument("--campaign", required=True, help="campaign id")
    commit.add_argument("--seed-hash", required=True, help="SHA-256 hex of the secret seed")
    commit.add_argument(
        "--output", type=Path, help="the frozen entrant list (default: <campaign>-entrants.csv)"
    )
    recheck = draw_commands.add_parser(
        "recheck", help="before announcing: ask Meta whether each drawn entry still stands"
    )
    recheck.add_argument("--config", type=Path, required=True, help="TOML configuration file")
    recheck.add_argument("--campaign", required=True, help="campaign id")
    verify = draw_commands.add_parser("verify", help="re-run a draw from its record and list")
    verify.add_argument("record", type=Path, help="the draw record (JSON)")
    verify.add_argument("--entrants", type=Path, required=True, help="the exported entrant list")
    verify.add_argument(
        "--html", type=Path, help="write the draw's certificate here (only if it verifies)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="listener", description="Listens to Instagram for a brand.")
    parser.add_argument("--version", action="version", version=f"listener {__version__}")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="the long-running worker")
    run.add_argument("--config", type=Path, help="TOML configuration file")

    check = commands.add_parser(
        "check", help="validate the config, reach MongoDB and the Graph API, report token expiry"
    )
    check.add_argument("--config", type=Path, required=True, help="TOML configuration file")

    token = commands.add_parser("token", help="access tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True, parser_class=_Parser)
    refresh = token_commands.add_parser(
        "refresh", help="renew long-lived tokens where Meta allows it"
    )
    refresh.add_argument("--config", type=Path, required=True, help="TOML configuration file")
    refresh.add_argument("--account", help="only this account (default: every account)")

    quota = commands.add_parser(
        "quota", help="per account: hashtags used of 30 in the rolling 7 days, when each frees"
    )
    quota.add_argument("--config", type=Path, required=True, help="TOML configuration file")

    _add_contest_commands(commands)

    simulate = commands.add_parser("simulate", help="serve the built-in Graph API simulator")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=8765)
    simulate.add_argument("--seed", type=int, default=7)
    return parser


def _until_signalled(
    main: Callable[[asyncio.Event, asyncio.Event], Coroutine[Any, Any, None]],
) -> None:
    """Run ``main(stop, reload)``: SIGTERM and SIGINT set ``stop``, SIGHUP sets ``reload``."""

    async def runner() -> None:
        stop = asyncio.Event()
        reload = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, reload.set)
        await main(stop, reload)

    asyncio.run(runner())


def _run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    configure_logging(level=args.log_level, secrets=settings.secrets())
    from listener import app  # noqa: PLC0415 - keeps `listener --help` fast

    _until_signalled(
        lambda stop, reload: app.run(
            settings, stop=stop, reload=reload, loader=partial(load_settings, args.config)
        )
    )
    return EXIT_OK


def _simulate(args: argparse.Namespace) -> int:
    configure_logging(level=args.log_level)
    from listener import simulator  # noqa: PLC0415 - only this command needs it

    config = simulator.SimulatorConfig(seed=args.seed)
    _until_signalled(lambda stop, _: simulator.run_forever(config, args.host, args.port, stop))
    return EXIT_OK


def _command(
    args: argparse.Namespace, command: Callable[[Settings, TextIO], Coroutine[Any, Any, int]]
) -> int:
    """A one-shot command: its report on stdout, its logs on stderr."""
    settings = load_settings(args.config)
    configure_logging(level=args.log_level, secrets=settings.secrets(), stream=sys.stderr)
    return asyncio.run(command(settings, sys.stdout))


def _check(args: argparse.Namespace) -> int:
    from listener.commands.check import check  # noqa: PLC0415 - keeps `listener --help` fast

    return _command(args, check)


def _token(args: argparse.Namespace) -> int:
    from listener.commands.token import refresh_tokens  # noqa: PLC0415 - keeps `--help` fast

    return _command(args, partial(refresh_tokens, account=args.account))


def _quota(args: argparse.Namespace) -> int:
    from listener.commands.quota import quota  # noqa: PLC0415 - keeps `listener --help` fast

    return _command(args, quota)


def _identity(entrants: int, known: int) -> str:
    """How many entrants have a known author: the line every export prints on stderr."""
    share = f" ({known / entrants:.1%})" if entrants else ""
    line = f"{entrants} entrants; author known for {known}{share}"
    if known < entrants:
        line += f", unknown for {entrants - known} (a winner among them is marked verify_author)"
    return line


def _export(args: argparse.Namespace) -> int:
    from listener.contests import commands  # noqa: PLC0415 - keeps `listener --help` fast

    settings = load_settings(args.config)
    configure_logging(level=args.log_level, secrets=settings.secrets(), stream=sys.stderr)
    show = sys.stderr.isatty()

    def progress(rows: int) -> None:
        if show:
            print(f"\r{rows} rows", end="", file=sys.stderr, flush=True)

    options = {"fmt": args.format, "include_all": args.all, "progress": progress}
    if args.output is None:
        summary = asyncio.run(
            commands.export(settings, args.campaign, sys.stdout.buffer, **options)
        )
    else:
        summary = asyncio.run(commands.export_file(settings, args.campaign, args.output, **options))
    if show:
        print(f"\r{summary.rows} rows", file=sys.stderr)
    print(f"listener: {_identity(summary.entrants, summary.known_authors)}", file=sys.stderr)
    return EXIT_OK


def _contests(args: argparse.Namespace) -> int:
    from listener.contests import commands  # noqa: PLC0415 - keeps `listener --help` fast

    settings = load_settings(args.config)
    configure_logging(level=args.log_level, secrets=settings.secrets(), stream=sys.stderr)
    results = commands.reevaluate_campaigns(settings, args.campaign, full=args.full)
    for result in asyncio.run(results):
        print(
            f"{result.campaign}: {result.judged} media judged"
            f"{' (in full)' if result.full else ''}, {result.changed} verdicts changed, "
            f"{result.eligible} eligible"
        )
    return EXIT_OK


def _draw(args: argparse.Namespace) -> int:
    from listener.contests import commands  # noqa: PLC0415 - keeps `listener --help` fast

    if args.draw_command == "verify":
        return _draw_verify(args)
    if args.draw_command == "recheck":
        from listener.contests.recheck import recheck  # noqa: PLC0415 - keeps `--help` fast

        return _command(args, partial(recheck, campaign_id=args.campaign))
    missing = [f"--{n}" for n in ("config", "campaign") if getattr(args, n) is None]
    if args.draw_command is None:
        missing += [f"--{n}" for n in ("winners", "seed") if getattr(args, n) is None]
    if missing:
        raise ConfigError(f"listener draw needs {', '.join(missing)}")
    settings = load_settings(args.config)
    configure_logging(level=args.log_level, secrets=settings.secrets(), stream=sys.stderr)
    if args.draw_command == "commit":
        output = args.output or Path(f"{args.campaign}-entrants.csv")
        done = asyncio.run(commands.draw_commit(settings, args.campaign, args.seed_hash, output))
        frozen = done.frozen
        print(
            f"committed: {frozen.entrant_count} entrants, list sha256 {frozen.entrants_digest} "
            f"written to {output}; seed hash {frozen.seed_commitment}"
        )
        print(
            f"listener: {_identity(done.summary.entrants, done.summary.known_authors)}",
            file=sys.stderr,
        )
        return EXIT_OK
    output = args.output or Path(f"{args.campaign}-draw.json")
    alternates = args.alternates if args.alternates is not None else args.winners
    record = asyncio.run(
        commands.draw_run(
            settings,
            args.campaign,
            seed=args.seed,
            winners=args.winners,
            alternates=alternates,
            record_file=output,
        )
    )
    print(f"drawn: winners {', '.join(record.winners)}; alternates {', '.join(record.alternates)}")
    unknown = [entrant.entry_id for entrant in record.drawn if entrant.verify_author]
    if unknown:
        print(f"verify_author: confirm who posted {', '.join(unknown)} (see docs/contests.md)")
    print(f"record written to {output}, certificate to {commands.certificate_path(output)}")
    return EXIT_OK


def _draw_verify(args: argparse.Namespace) -> int:
    from listener.contests import commands  # noqa: PLC0415 - keeps `listener --help` fast

    problems = commands.draw_verify(args.record, args.entrants, args.html)
    for problem in problems:
        print(f"problem: {problem}")
    print(
        "verified: the draw reproduces from the record and the list"
        if not problems
        else f"NOT verified: {len(problems)} problem(s)"
    )
    if args.html is not None:
        print(
            f"certificate written to {args.html}"
            if not problems
            else "no certificate written: the draw does not verify"
        )
    return EXIT_OK if not problems else EXIT_FAILURE


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "export": _export,
    "contests": _contests,
    "draw": _draw,
    "run": _run,
    "simulate": _simulate,
    "check": _check,
    "token": _token,
    "quota": _quota,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``listener`` console script."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"listener: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ListenerError as exc:
        print(f"listener: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        # A file that cannot be written or read: name it, no traceback.
        print(
            f"listener: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr
        )
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
