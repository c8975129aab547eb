"""``photod search`` and ``photod status`` over a real index."""

from __future__ import annotations

import json

from click.testing import CliRunner

from photod.cli import cli
from photod.index.db import open_index
from tests.conftest import config_yaml, write_photo


def _index_with_captions(tmp_path, photo_root):
    for name in ("beach.jpg", "party.jpg", "desk.jpg"):
        write_photo(photo_root / name)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config_yaml(tmp_path, photo_root))
    assert CliRunner().invoke(cli, ["--config", str(cfg), "scan", "--no-progress"]).exit_code == 0
    db = open_index(tmp_path / "data" / "index.sqlite")
    ids = {p.rsplit("/", 1)[1]: i for i, p in db.execute("SELECT id, path FROM photos")}
    for name, text in [
        ("beach.jpg", "Alice throwing a ball for Rex on the beach"),
        ("party.jpg", "Alice blowing out candles at her birthday party"),
        ("desk.jpg", "my red mug on a wooden desk"),
    ]:
        db["captions"].insert(
            {"photo_id": ids[name], "text": text, "model": "toy", "created_at": 0}
        )
    db["answers"].insert(
        {
            "photo_id": ids["desk.jpg"],
            "question": "What color is the mug?",
            "answer": "red",
            "model": "toy",
            "created_at": 0,
        }
    )
    db.close()
    return cfg


def test_search_text_and_json(tmp_path, photo_root):
    cfg = _index_with_captions(tmp_path, photo_root)
    run = CliRunner().invoke
    result = run(cli, ["--config", str(cfg), "search", "alice"])
    assert result.exit_code == 0
    assert str(photo_root / "beach.jpg") in result.output
    assert str(photo_root / "party.jpg") in result.output
    assert "[Alice]" in result.output  # the matching words are highlighted in the snippet
    for words in (["rex", "beac*"], ["beaches"]):  # a prefix when asked for; stems match
        out = json.loads(run(cli, ["--config", str(cfg), "search", "--json", *words]).output)
        assert [h["path"] for h in out["results"]] == [str(photo_root / "beach.jpg")]
    out = json.loads(run(cli, ["--config", str(cfg), "search", "--json", "mug"]).output)
    assert out["count"] == 1  # one hit per photo, although caption and answer both match
    nothing = run(cli, ["--config", str(cfg), "search", "zebra"])
    assert nothing.exit_code == 1 and "no photos match" in nothing.output
    nothing = run(cli, ["--config", str(cfg), "search", "--json", "zebra"])
    assert nothing.exit_code == 1 and json.loads(nothing.output)["results"] == []  # as text


def test_empty_lists_say_so_and_times_read_as_words(tmp_path, photo_root):
    cfg = _index_with_captions(tmp_path, photo_root)
    result = CliRunner().invoke(cli, ["--config", str(cfg), "failures"])
    assert result.exit_code == 0 and result.output == "no failures\n"
    text = CliRunner().invoke(cli, ["--config", str(cfg), "status"]).output
    last = next(ln for ln in text.splitlines() if ln.startswith("last activity:"))
    assert last.endswith(("s ago)", "min ago)", "(now)")) and "-" not in last.split("(")[1]


def test_status_json(tmp_path, photo_root):
    cfg = _index_with_captions(tmp_path, photo_root)
    (photo_root / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    CliRunner().invoke(cli, ["--config", str(cfg), "scan", "--no-progress"])
    info = json.loads(CliRunner().invoke(cli, ["--config", str(cfg), "status", "--json"]).output)
    assert info["photos"] == 3 and info["by_status"] == {"indexed": 3}
    assert info["captions"] == 3 and info["failures"] == 1 and info["jobs"] == {}
    assert info["last_activity"] is not None and info["daemon"] is None
    text = CliRunner().invoke(cli, ["--config", str(cfg), "status"]).output
    assert "failures:       1 (see `photod failures`)" in text


def test_commands_on_a_missing_index_say_what_to_do(tmp_path, photo_root):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config_yaml(tmp_path, photo_root))
    result = CliRunner().invoke(cli, ["--config", str(cfg), "status"])
    assert result.exit_code == 1 and "run `photod scan` or `photod run` first" in result.output
