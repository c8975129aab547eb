"""Configuration: defaults, XDG paths, environment overrides, clear errors with status 78."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel

from photod.cli import cli
from photod.config import Config, env_overrides, load_config
from photod.errors import EX_CONFIG, ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_follow_xdg(tmp_path):
    env = {
        "XDG_DATA_HOME": str(tmp_path / "d"),
        "XDG_CACHE_HOME": str(tmp_path / "c"),
        "XDG_STATE_HOME": str(tmp_path / "s"),
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
    }
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        cfg = load_config(environ={})
    assert cfg.paths.data_dir == tmp_path / "d" / "photod"
    assert cfg.paths.cache_dir == tmp_path / "c" / "photod"
    assert cfg.paths.state_dir == tmp_path / "s" / "photod"
    assert cfg.index_path == tmp_path / "d" / "photod" / "index.sqlite"
    assert cfg.library.roots == [Path.home() / "Pictures"]


def test_env_overrides_nested_values(tmp_path):
    env = {
        "PHOTOD_LIBRARY__ROOTS": "[/a, /b]",
        "PHOTOD_PIPELINE__INGEST_WORKERS": "4",
        "PHOTOD_METADATA__ENABLED": "true",
        "OTHER": "x",
    }
    assert env_overrides(env) == {
        "library": {"roots": ["/a", "/b"]},
        "pipeline": {"ingest_workers": 4},
        "metadata": {"enabled": True},
    }
    f = tmp_path / "c.yaml"
    f.write_text("pipeline:\n  ingest_workers: 1\n  queue_size: 3\n")
    cfg = load_config(f, environ=env)
    assert cfg.library.roots == [Path("/a"), Path("/b")]
    assert cfg.pipeline.ingest_workers == 4  # the environment wins over the file
    assert cfg.pipeline.queue_size == 3  # the rest of the file still applies


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("library:\n  rootz: [/x]\n", {}, "library.rootz: unknown key"),
        ("pipeline:\n  queue_size: 0\n", {}, "pipeline.queue_size: Input should be greater"),
        ("ingest:\n  working_size: lots\n", {}, "ingest.working_size:"),
        ("- just\n- a list\n", {}, "top level must be a mapping"),
        ("library: [unclosed\n", {}, "not valid YAML"),
        ("", {"PHOTOD_PIPELINE__QUEUE_SIZE": "-1"}, "PHOTOD_* environment: pipeline.queue_size"),
        ("library:\n  roots: []\n", {}, "library.roots: Value error, at least one photo folder"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, env, expected):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(f, environ=env)
    assert expected in str(err.value)
    assert str(f) in str(err.value)


def test_cli_exits_78_with_one_clear_line(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("index:\n  busy_timeout_ms: soon\n")
    for command in (["status"], ["scan"], ["run"], ["plugins"]):
        result = CliRunner().invoke(cli, ["--config", str(f), *command])
        assert result.exit_code == EX_CONFIG, command
        assert "configuration error" in result.output and "index.busy_timeout_ms" in result.output
        assert "Traceback" not in result.output


def test_missing_explicit_config_file_is_an_error(tmp_path):
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.yaml"), "status"])
    assert result.exit_code == EX_CONFIG
    assert "no such configuration file" in result.output


def test_example_config_is_valid_and_documents_every_key():
    text = (ROOT / "config.example.yaml").read_text()
    cfg = load_config(ROOT / "config.example.yaml", environ={})
    assert cfg.pipeline.queue_size == Config().pipeline.queue_size
    documented = yaml.safe_load(text)

    def keys(model, prefix=""):
        for name, _field in type(model).model_fields.items():
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                yield from keys(value, f"{prefix}{name}.")
            else:
                yield f"{prefix}{name}"

    def present(dotted):
        node = documented
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    missing = [k for k in keys(Config()) if not present(k)]
    assert not missing, f"config.example.yaml does not document: {missing}"
