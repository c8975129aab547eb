"""VLM presets: one setting turns a supported model on; an unknown one is one line, status 78."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from photod.cli import cli
from photod.config import load_config
from photod.errors import EX_CONFIG
from photod.presets import VLM_PRESETS


def test_every_preset_says_its_hardware_size_licence_and_cost():
    assert {p.hardware for p in VLM_PRESETS.values()} == {"cpu", "gpu"}
    for p in VLM_PRESETS.values():
        assert p.model.startswith("hf-hub:")
        assert p.params and p.download and p.licence
        # Not measured on the real weights (the hub cannot be reached here): said so.
        assert "estimated" in p.seconds_per_caption


def test_a_preset_becomes_the_first_vlm_model(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("vlm:\n  preset: llava-0.5b\n  models: [{id: mine, model: /srv/m}]\n")
    cfg = load_config(f, environ={})
    assert [(m.id, m.model) for m in cfg.vlm.models] == [
        ("llava-0.5b", "hf-hub:llava-hf/llava-interleave-qwen-0.5b-hf"),
        ("mine", "/srv/m"),
    ]


def test_the_users_own_entry_for_a_preset_wins(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text(
        "vlm:\n  preset: llava-0.5b\n  models:\n"
        "    - {id: llava-0.5b, model: /srv/llava, training: {steps: 7}}\n"
    )
    models = load_config(f, environ={}).vlm.models
    assert [(m.id, m.model, m.training.steps) for m in models] == [("llava-0.5b", "/srv/llava", 7)]


def test_a_preset_from_the_environment(tmp_path):
    cfg = load_config(tmp_path / "none.yaml", environ={"PHOTOD_VLM__PRESET": "llava-1.5-7b"})
    assert [m.id for m in cfg.vlm.models] == ["llava-1.5-7b"]


def test_an_unknown_preset_is_one_line_and_status_78(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("vlm:\n  preset: gpt-9\n")
    result = CliRunner().invoke(cli, ["--config", str(f), "models", "list"])
    assert result.exit_code == EX_CONFIG
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert "vlm.preset" in lines[0] and "unknown preset 'gpt-9'" in lines[0]
    assert "llava-0.5b (cpu)" in lines[0]


def test_the_readme_lists_every_preset_as_the_code_has_it():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    listed = {row.split("|")[1].strip(" `"): row.split("|")[3].strip() for row in rows}
    assert listed == {p.name: p.model.removeprefix("hf-hub:") for p in VLM_PRESETS.values()}
    for row, p in zip(rows, VLM_PRESETS.values(), strict=True):
        assert p.download in row and p.params in row
