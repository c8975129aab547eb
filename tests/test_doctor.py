"""``photod doctor`` on real folders and files: what works, what does not, and the fix."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from photod import doctor
from photod.cli import cli
from photod.config import load_config
from photod.doctor import system


def write_config(tmp_path: Path, extra: str = "") -> Path:
    roots = tmp_path / "photos"
    (roots / "2026" / "trip").mkdir(parents=True)
    clip_dir = tmp_path / "clip-folder"  # a copied model folder (presence is what is checked)
    clip_dir.mkdir(exist_ok=True)
    (clip_dir / "open_clip_config.json").write_text("{}")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"paths:\n  data_dir: {tmp_path / 'data'}\n  cache_dir: {tmp_path / 'cache'}\n"
        f"  state_dir: {tmp_path / 'state'}\n"
        f"library:\n  roots: [{roots}]\n"
        "models:\n  offline: true\n"
        f"clip:\n  model: local-dir:{clip_dir}\n" + extra
    )
    return cfg


def test_a_working_setup_is_all_well(tmp_path):
    cfg = write_config(tmp_path)
    result = CliRunner().invoke(cli, ["--config", str(cfg), "doctor"])
    assert result.exit_code == 0, result.output
    assert result.output.endswith("all is well\n")
    lines = result.output.splitlines()
    for name in ("index", "photos", "inotify", "faces", "model hub", "clip", "vlm", "exiftool"):
        assert any(line[6:].startswith(name) for line in lines), name  # after "ok    "
    assert "models.offline is set" in result.output
    assert "FAIL" not in result.output


def test_problems_fail_with_their_fix(tmp_path):
    cfg = write_config(
        tmp_path, "vlm:\n  models: [{id: blip, model: hf-hub:Salesforce/blip2-opt-2.7b}]\n"
    )
    cfg.write_text(
        cfg.read_text().replace(
            f"local-dir:{tmp_path / 'clip-folder'}", "ViT-B-32/laion2b_s34b_b79k"
        )
    )
    index = tmp_path / "data" / "index.sqlite"
    index.parent.mkdir(parents=True)
    index.write_bytes(b"")
    index.chmod(0o644)
    result = CliRunner().invoke(cli, ["--config", str(cfg), "doctor"])
    assert result.exit_code == 1
    out = result.output
    assert f"fix: chmod 600 {index}" in out
    assert "FAIL  clip" in out and "or clip.enabled: false" in out
    assert "FAIL  vlm blip" in out and "hf-hub:Salesforce/blip2-opt-2.7b is not in" in out
    assert out.endswith("3 problem(s) to fix\n")


def test_too_few_inotify_watches_names_the_sysctl(tmp_path, monkeypatch):
    config = load_config(write_config(tmp_path), environ={})
    for i in range(5):
        (tmp_path / "photos" / f"album{i}").mkdir()
    # The kernel's limit is a global sysctl that only root may lower: it is read, not set, here.
    monkeypatch.setattr(system, "_read_int", lambda path: 4)
    check = system.check_inotify(config)
    assert check.status == doctor.FAIL and "limit 4 watches" in check.detail
    assert "sysctl fs.inotify.max_user_watches=524288" in check.fix
    config.library.force_polling = True
    assert system.check_inotify(config).status == doctor.OK
