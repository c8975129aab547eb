"""The training aid that names objects from tokens appended after the toy LLaVA's image."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from photod_lab.toyworld.dense import SHAPE_CLASSES, patch_labels
from photod_lab.toyworld.models import TinySize, build_blip2, build_llava
from photod_lab.toyworld.naming import (
    NAME_POOL,
    Naming,
    NamingAid,
    named_pick,
    pick_namings,
    reference_scenes,
)
from photod_lab.toyworld.scenes import SceneGenerator
from photod_lab.toyworld.train import make_batch, sequence_loss

SMALL = TinySize(vision_width=32, lm_width=32, heads=2, num_query_tokens=4)


def test_namings_pick_plain_objects_and_fresh_names() -> None:
    scenes = SceneGenerator(3, named_prob=0.5).batch(200)
    namings = pick_namings(scenes, np.random.default_rng(0), share=1.0, two_share=0.5)
    assert sum(len(n) == 2 for n in namings) > 30
    for scene, naming in zip(scenes, namings, strict=True):
        plain = [i for i, o in enumerate(scene.objects) if not o.outlined]
        # Every scene with a plain object gets a name; outlined (already named) ones never do.
        assert bool(naming) == bool(plain)
        assert set(naming.objects) <= set(plain)
        assert len(set(naming.names)) == len(naming.names)
        assert set(naming.names) <= set(NAME_POOL)
        assert not set(naming.names) & {o.phrase for o in scene.objects}
    none = pick_namings(scenes, np.random.default_rng(0), share=0.0)
    assert not any(none)


def test_a_named_object_is_renamed_in_the_caption_and_in_questions() -> None:
    scene = SceneGenerator(5, named_prob=0.0).sample(2)
    first, second = scene.objects
    naming = Naming((1,), ("luna",))
    assert named_pick(scene, naming, (None, scene.caption())) == (
        None,
        scene.caption().replace(second.phrase, "luna"),
    )
    shape = second.spec.shape
    assert named_pick(scene, naming, (f"where is the {shape} ?", "right")) == (
        "where is luna ?",
        "right",
    )
    other = f"what color is the {first.spec.shape} ?"
    assert named_pick(scene, naming, (other, first.spec.colour)) == (other, first.spec.colour)
    # Without a naming the sample is unchanged.
    assert named_pick(scene, Naming(), (None, "x")) == (None, "x")


def test_the_reference_shows_the_same_look_alone_elsewhere() -> None:
    scene = SceneGenerator(8, named_prob=0.0, decorated_prob=1.0).sample(3)
    naming = Naming((0, 2), ("bob", "ivy"))
    refs = reference_scenes(scene, naming, np.random.default_rng(1), 64)
    assert [r.layout for r in refs] == ["single", "single"]
    for ref, i in zip(refs, naming.objects, strict=True):
        (obj,) = ref.objects
        want = scene.objects[i].spec
        assert (obj.spec.shape, obj.spec.colour, obj.spec.decorations) == (
            want.shape,
            want.colour,
            want.decorations,
        )
        assert (obj.spec.cx, obj.spec.cy) != (want.cx, want.cy)


def test_the_look_is_the_mean_projector_output_over_the_objects_patches() -> None:
    model, processor = build_llava(SMALL)
    aid = NamingAid(model, processor, 64, 8)
    refs = SceneGenerator(2).batch(2, n_objects=1)
    looks = aid.looks(refs)
    pixels = processor.image_processor([r.image() for r in refs], return_tensors="pt")
    feats = model.model.get_image_features(pixel_values=pixels["pixel_values"], return_dict=True)
    shapes = patch_labels(refs, 64, 8)["shape"]
    for b, ref in enumerate(refs):
        inside = shapes[b] == SHAPE_CLASSES.index(ref.objects[0].spec.shape)
        assert 0 < inside.sum() < 64
        assert torch.allclose(looks[b], feats.pooler_output[b][inside].mean(0), atol=1e-5)
    # LLaVA's token adds the name's word embedding to the look, each at unit norm; the aid
    # learns nothing of its own.
    scene = refs[0]
    ((token,),) = aid.tokens([scene], [Naming((0,), ("rex",))], np.random.default_rng(0))
    word = model.get_input_embeddings().weight[processor.tokenizer.convert_tokens_to_ids("rex")]
    assert torch.allclose(token.norm(), torch.tensor(1.0))
    assert F.cosine_similarity(token, F.normalize(word, dim=0), dim=0) > 0.5
    assert aid.parameters() == []


def test_named_llava_samples_append_one_placeholder_and_token_per_name() -> None:
    model, processor = build_llava(SMALL)
    aid = NamingAid(model, processor, 64, 8)
    scenes = SceneGenerator(4, named_prob=0.0).batch(3, n_objects=2)
    namings = [Naming((0,), ("bob",)), Naming(), Naming((0, 1), ("ivy", "rex"))]
    tokens = aid.tokens(scenes, namings, np.random.default_rng(0))
    assert [len(t) for t in tokens] == [1, 0, 2]
    picks = [named_pick(s, n, (None, s.caption())) for s, n in zip(scenes, namings, strict=True)]
    extra = aid.placeholders(namings)
    assert extra == [1, 0, 2]
    batch = make_batch("llava", [s.image() for s in scenes], processor, picks, extra)
    image_id = model.config.image_token_id
    assert (batch["input_ids"] == image_id).sum(1).tolist() == [65, 64, 66]
    # The model reads the batch with the tokens appended (one per extra placeholder), and
    # the loss back-propagates into the LM.
    with aid.injection(tokens):
        loss = sequence_loss(model, batch)
    loss.backward()
    assert model.model.language_model.layers[0].self_attn.q_proj.weight.grad.abs().sum() > 0


def test_blip2_names_come_from_learnt_codes_after_the_vision_encoder() -> None:
    model, processor = build_blip2(SMALL)
    aid = NamingAid(model, processor, 64, 8)
    scenes = SceneGenerator(4, named_prob=0.0).batch(2, n_objects=2)
    namings = [Naming((1,), ("luna",)), Naming()]
    tokens = aid.tokens(scenes, namings, np.random.default_rng(0))
    assert [len(t) for t in tokens] == [1, 0]
    assert tokens[0][0].shape == (SMALL.vision_width,)
    assert aid.placeholders(namings) == [0, 0]  # BLIP-2's prompt has no per-token placeholder
    picks = [named_pick(s, n, (None, s.caption())) for s, n in zip(scenes, namings, strict=True)]
    batch = make_batch("blip2", [s.image() for s in scenes], processor, picks)
    seen = []
    hook = model.qformer.register_forward_pre_hook(
        lambda _m, _a, kw: seen.append(kw["encoder_hidden_states"].shape[1]), with_kwargs=True
    )
    with aid.injection(tokens):
        loss = model(**batch).loss
    hook.remove()
    # The Q-Former sees the class token, 64 patches and the appended name.
    assert seen == [1 + 64 + 1]
    loss.backward()
    (codes,) = aid.parameters()
    assert codes.grad[NAME_POOL.index("luna")].abs().sum() > 0
    assert codes.grad[NAME_POOL.index("bob")].abs().sum() == 0


def test_the_dev_measure_generates_with_the_tokens_appended() -> None:
    model, processor = build_llava(SMALL)
    aid = NamingAid(model, processor, 64, 8)
    scenes = SceneGenerator(6).batch(6)
    calls = []
    original = model.generate

    def spy(**kwargs):
        calls.append((kwargs["input_ids"] == model.config.image_token_id).sum(1).tolist())
        return original(**kwargs)

    model.generate = spy
    # A random model names nothing right; every scene carried one or two extra tokens.
    assert aid.caption_exact_match(scenes) == 0.0
    assert calls and all(n in (65, 66) for n in calls[0])
    calls.clear()
    # The three-name measure keeps only three-object scenes, each carrying three tokens.
    assert aid.caption_exact_match(scenes, three=True) == 0.0
    three = [s for s in scenes if len(s.objects) == 3 and not any(o.outlined for o in s.objects)]
    assert calls and calls[0] == [67] * len(three)


def test_three_names_when_asked_and_old_runs_replay() -> None:
    scenes = [s for s in SceneGenerator(4, named_prob=0.0).batch(300) if len(s.objects) == 3]
    three = pick_namings(scenes, np.random.default_rng(1), 1.0, two_share=0.0, three_share=1.0)
    assert all(len(n) == 3 and len(set(n.names)) == 3 for n in three)
    mixed = pick_namings(scenes, np.random.default_rng(1), 1.0, two_share=0.3, three_share=0.3)
    counts = [sum(len(n) == k for n in mixed) for k in (1, 2, 3)]
    assert all(c > 15 for c in counts)  # about 40/30/30 of the 92 three-object scenes
    # Without three names the draws are the ones runs made before the option existed.
    old = pick_namings(scenes, np.random.default_rng(2), 0.7, two_share=0.5)
    new = pick_namings(scenes, np.random.default_rng(2), 0.7, two_share=0.5, three_share=0.0)
    assert old == new and not any(len(n) == 3 for n in new)


def test_blip2_name_codes_are_kept_for_a_continuation(tmp_path) -> None:
    model, processor = build_blip2(SMALL)
    aid = NamingAid(model, processor, 64, 8)
    with torch.no_grad():
        aid.codes.weight.normal_()
    aid.save_codes(tmp_path)
    fresh = NamingAid(model, processor, 64, 8)
    assert not torch.equal(fresh.codes.weight, aid.codes.weight)
    assert fresh.load_codes(tmp_path)
    assert torch.equal(fresh.codes.weight, aid.codes.weight)
    assert not fresh.load_codes(tmp_path / "elsewhere")  # none saved: learnt anew
    # LLaVA's codes are its word embeddings: nothing to keep.
    out = tmp_path / "llava"
    out.mkdir()
    NamingAid(*build_llava(SMALL), 64, 8).save_codes(out)
    assert not any(out.iterdir())
