"""Training one concept embedding: reproducible, only the embedding moves, gating per image,
checkpoints, generated targets."""

from __future__ import annotations

import pytest
import torch
from conftest import FAMILIES, images

from photod.config import VlmTrainingConfig
from photod.vlm.targets import OBJECT_QUESTIONS, generate_targets, personalise
from photod.vlm.training import TrainExample, train_embedding


@pytest.fixture(scope="module", params=["blip2-opt", "llava-qwen2"])
def small(request):
    s = FAMILIES[request.param]()
    s.settings.max_new_tokens = 5
    return s


def _examples(fired=(True, True)) -> list[TrainExample]:
    return [
        TrainExample(im, [(None, "rex left of a red circle"), ("what is rex ?", "a dog")], f)
        for im, f in zip(images(len(fired), seed=3), fired, strict=True)
    ]


FAST = VlmTrainingConfig(steps=6, views=2, learning_rate=0.1, checkpoint_every=3)


def test_training_is_reproducible_and_moves_only_the_embedding(small, tmp_path):
    before = {k: v.clone() for k, v in small.model.state_dict().items()}
    a = train_embedding(small, _examples(), "rex", FAST, checkpoint_dir=tmp_path, progress=False)
    b = train_embedding(small, _examples(), "rex", FAST, progress=False)
    c = train_embedding(
        small,
        _examples(),
        "rex",
        VlmTrainingConfig(**{**FAST.model_dump(), "seed": 1}),
        progress=False,
    )
    assert torch.equal(a.vector, b.vector) and a.losses == b.losses
    assert not torch.equal(a.vector, c.vector)
    assert a.vector.shape == (1, small.concept_dim)
    assert torch.allclose(a.vector.norm(), torch.tensor(1.0))
    assert all(torch.equal(v, small.model.state_dict()[k]) for k, v in before.items())
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "step_0003.safetensors",
        "step_0006.safetensors",
    ]
    assert a.meta["vlm_id"] == small.model_id and a.meta["settings"]["steps"] == 6


def test_training_lowers_the_loss(small):
    ex = _examples()[:1]
    ex[0].targets = [(None, "rex left of a red circle")]
    out = train_embedding(
        small,
        ex,
        "rex",
        VlmTrainingConfig(steps=20, views=1, augment=False, learning_rate=0.3),
        progress=False,
    )
    assert out.losses[-1] < out.losses[0]


def test_gating_is_per_image(small, monkeypatch):
    seen = []
    real = small.training_loss

    def spy(features, concepts, prompts, targets, reg):
        seen.append([len(c) for c in concepts])
        return real(features, concepts, prompts, targets, reg)

    monkeypatch.setattr(small, "training_loss", spy)
    train_embedding(
        small, _examples((True, False)), "rex", VlmTrainingConfig(steps=2, views=1), progress=False
    )
    assert seen == [[1, 0], [1, 0]]  # the head did not fire on image 2: no token there


def test_personalise_replaces_the_class_phrase():
    assert personalise("a dog on a beach", "rex", "the dog", "dog") == "rex on a beach"
    assert personalise("the Dog runs", "rex", "the dog", "dog") == "rex runs"
    # The whole noun phrase is the concept: a name replaces it ("a yellow bob" reads wrong).
    assert personalise("a brown dog", "rex", "the dog", "dog") == "rex"
    assert personalise("a big brown dog sleeps", "rex", "the dog", "dog") == "rex sleeps"
    assert personalise("a cat and a dog", "rex", "the dog", "dog") == "a cat and rex"
    assert personalise("a beach", "rex", "the dog", "dog") == "rex, a beach"


def test_targets_are_generated_and_overridable(small):
    pool = tuple(OBJECT_QUESTIONS[:2])
    ims = images(2)
    got = generate_targets(
        small,
        ims,
        "sks",
        "the mug",
        "mug",
        questions=pool,
        overrides={1: [(None, "sks on a table")]},
    )
    assert got[1] == [(None, "sks on a table")]
    # The tiny random model never says "mug": its caption is no target, its answers are.
    assert [q for q, _ in got[0]] == ["What color is sks?", "Where is sks in the image?"]
    assert all("sks" in t for _, t in got[0])  # each target names the concept
    assert pool == tuple(OBJECT_QUESTIONS[:2])  # the shared pool is never mutated


def test_several_tokens_per_concept(small, monkeypatch):
    out = train_embedding(
        small, _examples()[:1], "rex", VlmTrainingConfig(steps=2, views=1, tokens=3), progress=False
    )
    assert out.vector.shape == (3, small.concept_dim)
    assert torch.allclose(out.vector.norm(dim=1), torch.ones(3))
    counts = []
    real = small.place_concepts
    monkeypatch.setattr(small, "place_concepts", lambda ids, k: counts.append(k) or real(ids, k))
    texts = small.generate(images(2), [None, None], [[("rex", out.vector)], []])
    assert len(texts) == 2 and counts == [0, 3]  # the plain image first, then 3 tokens


def test_distractors_sit_beside_the_concept_frozen_and_in_either_order(small, monkeypatch):
    other = torch.nn.functional.normalize(torch.randn(2, small.concept_dim), dim=-1)
    kept = other.clone()
    rows = []
    real = small.training_loss

    def spy(features, concepts, prompts, targets, reg):
        rows.extend([[t.detach().clone() for t in c] for c in concepts])
        return real(features, concepts, prompts, targets, reg)

    monkeypatch.setattr(small, "training_loss", spy)
    settings = VlmTrainingConfig(steps=12, views=1, learning_rate=0.1, distractor_share=0.5)
    out = train_embedding(
        small, _examples((True, False)), "rex", settings, progress=False, distractors=[other]
    )
    fired, unfired = rows[0::2], rows[1::2]
    assert all(r == [] for r in unfired)  # gating still wins: no token where it did not fire
    with_other = [r for r in fired if len(r) == 3]
    alone = [r for r in fired if len(r) == 1]
    assert with_other and alone and len(with_other) + len(alone) == len(fired)

    def at(row, vec):  # where the distractor's first token sits in a row
        return next(i for i, t in enumerate(row) if torch.equal(t, vec))

    # Both orders occur; the distractor's own tokens stay together and never change.
    assert {at(r, other[0]) for r in with_other} == {0, 1}
    assert all(torch.equal(r[at(r, other[0]) + 1], other[1]) for r in with_other)
    assert torch.equal(other, kept)
    assert out.meta["distractors"] == 1
    again = train_embedding(
        small, _examples((True, False)), "rex", settings, progress=False, distractors=[other]
    )
    assert torch.equal(out.vector, again.vector)  # still seeded and reproducible


def test_distractors_without_a_share_change_nothing(small):
    other = torch.nn.functional.normalize(torch.randn(1, small.concept_dim), dim=-1)
    alone = train_embedding(small, _examples(), "rex", FAST, progress=False)
    given = train_embedding(small, _examples(), "rex", FAST, progress=False, distractors=[other])
    assert torch.equal(alone.vector, given.vector) and given.meta["distractors"] == 0


def test_anchored_tokens_are_the_look_plus_a_learnt_vector(small, tmp_path):
    from safetensors.torch import load_file

    from photod.vlm.injection import normalise
    from photod.vlm.look import shared_look

    examples = _examples((True, True, True))
    # A mirror image is made from a photo: the look comes from the photos alone.
    examples.append(TrainExample(examples[0].image.transpose(0), examples[0].targets, derived=True))
    settings = VlmTrainingConfig(**{**FAST.model_dump(), "look": "anchor", "tokens": 2})
    out = train_embedding(small, examples, "rex", settings, checkpoint_dir=tmp_path, progress=False)
    assert out.meta["look_photos"] == 3
    with torch.no_grad():
        feats = small.frozen_features(small.pixel_values([ex.image for ex in examples[:3]]))
    look = normalise(shared_look(list(small.image_patches(feats))))
    last = load_file(str(tmp_path / "step_0006.safetensors"))
    assert torch.allclose(last["look"], look, atol=1e-6)  # the checkpoint holds both parts
    want = torch.stack([normalise(look + normalise(row)) for row in last["embedding"]])
    assert torch.allclose(out.vector, want, atol=1e-5)
    plain = train_embedding(small, examples, "rex", FAST, progress=False)
    assert plain.meta["look_photos"] == 0 and not torch.allclose(plain.vector[0], out.vector[0])


def test_one_photo_anchors_on_its_mirror_images_or_on_nothing(small):
    one = _examples((True, False))  # the head fired on one photo only
    anchored = train_embedding(
        small,
        one,
        "rex",
        VlmTrainingConfig(**{**FAST.model_dump(), "look": "anchor"}),
        progress=False,
    )
    plain = train_embedding(small, one, "rex", FAST, progress=False)
    assert anchored.meta["look_photos"] == 0
    assert torch.equal(anchored.vector, plain.vector)
    # With its mirror image, a single photo has a look again (the mirror moves the concept).
    mirrored = [*one, TrainExample(one[0].image.transpose(0), one[0].targets, derived=True)]
    again = train_embedding(
        small,
        mirrored,
        "rex",
        VlmTrainingConfig(**{**FAST.model_dump(), "look": "anchor"}),
        progress=False,
    )
    assert again.meta["look_photos"] == 2
    with pytest.raises(ValueError, match="look"):
        train_embedding(
            small,
            one,
            "rex",
            VlmTrainingConfig(**{**FAST.model_dump(), "look": "mask"}),
            progress=False,
        )


def test_concept_attention_is_trained_with_and_kept_for_captioning():
    """BLIP-2: the concept attention a concept trains with becomes the session's (captions
    read the token as it was trained) and the embedding's metadata records it. With a
    distractor beside the token, "separate" trains through the per-token attention (a
    different embedding from one softmax's), still reproducibly."""
    session = FAMILIES["blip2-opt"]()
    other = torch.nn.functional.normalize(torch.randn(1, session.concept_dim), dim=-1)
    runs = {}
    for mode in ("joint", "separate", "separate"):
        settings = VlmTrainingConfig(
            steps=4, views=1, learning_rate=0.1, distractor_share=1.0, concept_attention=mode
        )
        out = train_embedding(
            session, _examples(), "rex", settings, progress=False, distractors=[other]
        )
        assert session.settings.concept_attention == mode
        assert out.meta["concept_attention"] == mode
        runs.setdefault(mode, []).append(out.vector)
    assert not torch.equal(runs["joint"][0], runs["separate"][0])
    assert torch.equal(*runs["separate"])
