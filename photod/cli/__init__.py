"""The ``photod`` command line."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from photod import __version__
from photod.config import Config, load_config
from photod.errors import EX_CONFIG, ConfigError, PhotodError


def setup_logging(verbose: int) -> None:
    """Log to stderr; under journald (``JOURNAL_STREAM``) leave timestamps to the journal."""
    level = logging.WARNING - 10 * verbose if verbose else logging.INFO
    if os.environ.get("JOURNAL_STREAM"):
        fmt = "%(levelname)s %(name)s: %(message)s"
    else:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=max(level, logging.DEBUG), format=fmt, stream=sys.stderr, force=True)
    if verbose < 2:
        # APScheduler logs every run of its periodic jobs at INFO: noise in the journal.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)


class Context:
    """What every command receives: the config path and a lazily loaded config."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None

    def config(self) -> Config:
        """Load the configuration once; a bad one exits with status 78 and names the key."""
        if self._config is None:
            try:
                self._config = load_config(self.config_path, required=self.config_path is not None)
            except ConfigError as exc:
                click.echo(f"photod: configuration error: {exc}", err=True)
                sys.exit(EX_CONFIG)
        return self._config


pass_context = click.make_pass_decorator(Context)


#: Every subcommand, as "module:attribute": imported only when it runs or its help is shown,
#: so `photod search` does not pay for the daemon, the models and training at start-up.
SUBCOMMANDS = {
    "run": "photod.cli.daemon:run_command",
    "service": "photod.cli.service:service_group",
    "doctor": "photod.cli.doctor:doctor_command",
    "models": "photod.cli.models:models_group",
    "scan": "photod.cli.scan:scan_command",
    "concept": "photod.cli.concepts:concept_group",
    "faces": "photod.cli.concepts:faces_group",
    "metadata": "photod.cli.metadata:metadata_group",
    "caption": "photod.cli.vlm:caption_command",
    "ask": "photod.cli.vlm:ask_command",
    "locate": "photod.cli.locate:locate_command",
    "eval": "photod.cli.eval:eval_command",
    "status": "photod.cli.query:status_command",
    "search": "photod.cli.query:search_command",
    "failures": "photod.cli.query:failures_command",
    "plugins": "photod.cli.query:plugins_command",
    "duplicates": "photod.cli.duplicates:duplicates_command",
    "serve": "photod.cli.web:serve_command",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported by name on first use (``lazy``)."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context | None) -> list[str]:
        """Every command name, loaded or not."""
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context | None, cmd_name: str) -> click.Command | None:
        """The command, importing its module the first time."""
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, _, attr = self.lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attr)
            _same_help_option(command)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


@click.group(
    cls=LazyGroup, lazy=SUBCOMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="PHOTOD_CONFIG",
    help="Configuration file (default: $XDG_CONFIG_HOME/photod/config.yaml).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.version_option(__version__, prog_name="photod")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int) -> None:
    """photod: index, recognise and caption your photos with your own concepts.

    Run `photod run` for the daemon (it watches your photo folders), or `photod scan PATH`
    to index once. Settings come from the configuration file and PHOTOD_SECTION__KEY
    environment variables (see config.example.yaml).

    \b
    Exit status, for text and --json output alike:
      0   done, or something found
      1   nothing found (search), or refused or failed (the message says why)
      2   usage error (an unknown command or option, a missing argument)
      78  configuration error (the message names the key)
    """
    setup_logging(verbose)
    ctx.obj = Context(config_path)


def _same_help_option(command: click.Command) -> None:
    # Click caches each command's help option from the first context that asks for it; a
    # context built without its parent (a test, a docs generator) would lose the inherited
    # "-h". Giving every command the setting makes `-h` work the same everywhere.
    command.context_settings.setdefault("help_option_names", ["-h", "--help"])
    # A lazily loaded command may have been run on its own (a test) before the group loads
    # it, and cached a help option without "-h": drop it, click builds it again (click has
    # no public way to do this).
    cached = getattr(command, "_help_option", None)
    if cached is not None and "-h" not in cached.opts:
        command._help_option = None
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _same_help_option(sub)


def main() -> None:
    """Console-script entry point: photod's own errors become one line, not a traceback."""
    try:
        cli(standalone_mode=True)
    except PhotodError as exc:
        click.echo(f"photod: {exc}", err=True)
        sys.exit(EX_CONFIG if isinstance(exc, ConfigError) else 1)
