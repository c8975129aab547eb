"""The concept-token hooks on every supported LM family (OPT, T5, Llama, Qwen2), checked
numerically where the MyVLM method says they act."""

from __future__ import annotations

import pytest
import torch
from conftest import FAMILIES, images, make_session

from photod.vlm.blip2 import Blip2Injection, cross_attention_modules
from photod.vlm.injection import normalise


def _embedding(session, seed: int = 0) -> torch.nn.Parameter:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.Parameter(torch.rand(1, session.concept_dim, generator=g))


def _recording_generate(session, monkeypatch) -> list[torch.Tensor]:
    """Record the token ids ``model.generate`` returns (the real call, only observed)."""
    calls: list[torch.Tensor] = []
    real = session.model.generate

    def spy(*args, **kwargs):
        ids = real(*args, **kwargs)
        calls.append(ids)
        return ids

    monkeypatch.setattr(session.model, "generate", spy)
    return calls


def _hook_count(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_no_concept_is_the_plain_model_bit_for_bit(session, monkeypatch):
    """Images without a fired concept: same tokens as the plain model, and the model is
    left without hooks after a personalised call (its logits are unchanged, bit for bit)."""
    ims = images(3)
    pv = session.pixel_values(ims)
    ids, mask = session.pad_left([session.prefix_ids(session.prompt_text(None, []))] * 3)
    extra = (
        {"decoder_input_ids": torch.zeros_like(ids[:, :1])}
        if (session.family == "blip2" and not session.decoder_only)
        else {}
    )
    before = session.model(input_ids=ids, attention_mask=mask, pixel_values=pv, **extra).logits
    plain = session.model.generate(
        input_ids=ids, attention_mask=mask, pixel_values=pv, max_new_tokens=6, do_sample=False
    )
    hooks_before = _hook_count(session.model)
    calls = _recording_generate(session, monkeypatch)
    e = _embedding(session)
    session.generate(ims, [None] * 3, [[], [("rex", e)], []])
    assert len(calls) == 2  # the no-concept group and the concept group, separately
    assert torch.equal(calls[0], plain[[0, 2]])
    after = session.model(input_ids=ids, attention_mask=mask, pixel_values=pv, **extra).logits
    assert torch.equal(before, after)
    assert _hook_count(session.model) == hooks_before
    assert not any(
        "forward" in vars(m) or "get_image_features" in vars(m) for m in session.model.modules()
    )


def test_concept_changes_the_output(session):
    """The appended token reaches the LM: logits differ from the plain model's."""
    ims = images(1)
    feats = session.frozen_features(session.pixel_values(ims))
    prompt = [session.prompt_text(None, ["rex"])]
    with torch.no_grad():
        with_c, _ = session.training_loss(feats, [[_embedding(session)]], prompt, ["a dog"], False)
        without, _ = session.training_loss(feats, [[]], prompt, ["a dog"], False)
    assert with_c.item() != without.item()


def test_regulariser_gradient_reaches_only_the_embedding(session):
    ims = images(2)
    feats = session.frozen_features(session.pixel_values(ims))
    e = _embedding(session)
    prompts = [session.prompt_text(None, ["rex"]), session.prompt_text(None, [])]
    _, reg = session.training_loss(feats, [[e], []], prompts, ["rex", "a dog"], True)
    assert reg[0] > 0 and reg[1] == 0  # the image without the concept has no term
    reg.sum().backward()
    assert e.grad is not None and e.grad.abs().sum() > 0
    assert all(p.grad is None for p in session.model.parameters())


# ----- BLIP-2: where the token goes, key/value norm matching, the Q-Former regulariser ------
@pytest.fixture(scope="module", params=[f for f in sorted(FAMILIES) if f.startswith("blip2")])
def blip2(request):
    session = make_session(request.param)
    session.settings.kv_norm_match = True
    return session


def test_blip2_token_goes_through_post_layernorm(blip2):
    vision = blip2.model.vision_model
    seen = []
    h = vision.post_layernorm.register_forward_hook(lambda m, a, o: seen.append((a[0], o)))
    e = _embedding(blip2)
    with torch.no_grad(), blip2.injection([[e]]):
        blip2.model.get_image_features(blip2.pixel_values(images(1)))
    h.remove()
    x, y = seen[0]
    n = (blip2.model.config.vision_config.image_size // 8) ** 2 + 1
    assert x.shape[1] == n + 1  # image tokens + CLS, then the concept
    assert torch.allclose(x[0, -1], normalise(e.detach()))
    assert torch.allclose(y[0, -1], vision.post_layernorm(normalise(e.detach())), atol=1e-6)


def test_blip2_key_value_norm_matching_in_every_cross_attention_layer(blip2):
    layers = cross_attention_modules(blip2.model)
    assert len(layers) == blip2.model.config.qformer_config.num_hidden_layers
    seen: dict[str, list[torch.Tensor]] = {"key": [], "value": []}
    e, e2 = _embedding(blip2, 1), _embedding(blip2, 2)
    with torch.no_grad(), blip2.injection([[e, e2], [e]]):
        # Registered after the injection's hooks: they see the rescaled projections.
        hs = [
            getattr(att, kind).register_forward_hook(
                lambda m, a, o, kind=kind: seen[kind].append(o)
            )
            for att in layers
            for kind in ("key", "value")
        ]
        blip2.model.get_image_features(blip2.pixel_values(images(2)))
    for h in hs:
        h.remove()
    for kind in ("key", "value"):
        assert len(seen[kind]) == len(layers)
        for out in seen[kind]:
            img, concepts = out[:, :-2], out[:, -2:]
            target = img.norm(dim=-1).mean(dim=1, keepdim=True).expand(-1, 2)
            active = torch.tensor([[True, True], [True, False]])  # image 1 has one concept
            assert torch.allclose(concepts.norm(dim=-1)[active], target[active], rtol=1e-5)


def test_blip2_gating_masks_absent_slots(blip2):
    """In a batch, an image without the concept (or with fewer concepts) never attends
    to the other images' concept slots: its Q-Former output is the plain one."""
    pv = blip2.pixel_values(images(2))
    with torch.no_grad():
        plain = blip2.model.get_image_features(pv).pooler_output
        with blip2.injection([[_embedding(blip2)], []], record_attention=True) as inj:
            mixed = blip2.model.get_image_features(pv).pooler_output
    assert torch.allclose(mixed[1], plain[1], atol=1e-5)
    assert not torch.allclose(mixed[0], plain[0], atol=1e-5)
    assert all(float(p[1].abs().max()) == 0.0 for p in inj.attention)


def test_blip2_regulariser_is_mean_squared_query_to_concept_attention(blip2):
    pv = blip2.pixel_values(images(1))
    full = []
    layers = cross_attention_modules(blip2.model)
    with torch.no_grad(), blip2.injection([[_embedding(blip2)]], record_attention=True) as inj:
        hs = [a.register_forward_hook(lambda m, a, o: full.append(o[1])) for a in layers]
        blip2.model.get_image_features(pv)
    for h in hs:
        h.remove()
    q = blip2.model.config.num_query_tokens
    assert [p.shape[2:] for p in full] == [(q, full[0].shape[-1])] * len(layers)
    assert all(torch.allclose(p.sum(-1), torch.ones_like(p.sum(-1))) for p in full)
    expected = sum(float((p[..., -1] ** 2).mean()) for p in full)
    assert inj.regulariser().item() == pytest.approx(expected, rel=1e-5)


def _first_cross_attention(blip2, pv, concepts, attention="joint"):
    """Output and probabilities of the first cross-attention layer (its queries do not
    depend on the image or the concepts, so runs with different tokens compare)."""
    seen = []
    att = cross_attention_modules(blip2.model)[0]
    h = att.register_forward_hook(lambda m, a, o: seen.append(o))
    with (
        torch.no_grad(),
        Blip2Injection(blip2.model, concepts, concept_attention=attention),
    ):
        blip2.model.get_image_features(pv)
    h.remove()
    return seen[0]


def test_blip2_separate_attention_reads_each_concept_as_if_alone(blip2):
    """With ``concept_attention="separate"``, each of two tokens gets from every query the
    attention it gets when appended alone, and the layer's output is the image-only output
    shifted by each token's own contribution. In one softmax ("joint") they compete."""
    pv = blip2.pixel_values(images(1))
    e1, e2 = _embedding(blip2, 1), _embedding(blip2, 2)
    out0, _ = _first_cross_attention(blip2, pv, [[]])
    out1, p1 = _first_cross_attention(blip2, pv, [[e1]])
    out2, p2 = _first_cross_attention(blip2, pv, [[e2]])
    out, p = _first_cross_attention(blip2, pv, [[e1, e2]], "separate")
    assert torch.allclose(p[..., -2], p1[..., -1], atol=1e-6)
    assert torch.allclose(p[..., -1], p2[..., -1], atol=1e-6)
    assert torch.allclose(out, out1 + out2 - out0, atol=1e-5)
    _, joint = _first_cross_attention(blip2, pv, [[e1, e2]])
    assert (joint[..., -2] < p1[..., -1]).all()  # the other token takes its share


def test_blip2_separate_attention_keeps_gating_and_single_tokens(blip2):
    """In a batch: an image without concepts still gets the plain Q-Former output, one
    with a single concept the same as in one softmax; a photo with one token installs
    nothing extra (training alone is exactly MyVLM's)."""
    pv = blip2.pixel_values(images(3))
    e1, e2 = _embedding(blip2, 1), _embedding(blip2, 2)
    with torch.no_grad():
        plain = blip2.model.get_image_features(pv).pooler_output
        with Blip2Injection(blip2.model, [[e1]] * 3, concept_attention="joint"):
            single = blip2.model.get_image_features(pv).pooler_output
        with Blip2Injection(blip2.model, [[e1, e2], [e1], []], concept_attention="separate"):
            assert all("forward" in vars(a) for a in cross_attention_modules(blip2.model))
            mixed = blip2.model.get_image_features(pv).pooler_output
        with Blip2Injection(blip2.model, [[e1]], concept_attention="separate"):
            assert not any("forward" in vars(a) for a in cross_attention_modules(blip2.model))
    assert torch.allclose(mixed[2], plain[2], atol=1e-5)
    assert torch.allclose(mixed[1], single[1], atol=1e-5)
    assert not torch.allclose(mixed[0], single[0], atol=1e-5)
    assert not any("forward" in vars(a) for a in cross_attention_modules(blip2.model))
    with pytest.raises(ValueError, match="concept_attention"):
        Blip2Injection(blip2.model, [[e1]], concept_attention="shared")


# ----- LLaVA: token after the projector, rescaled, extra placeholder, other->concept reg -----
@pytest.fixture(scope="module", params=[f for f in sorted(FAMILIES) if f.startswith("llava")])
def llava(request):
    return make_session(request.param)


def test_llava_token_after_projector_with_visual_norm(llava):
    ims = images(2)
    pv = llava.pixel_values(ims)
    e = _embedding(llava)
    prompt = llava.prompt_text(None, ["rex"])
    rows = [
        llava.place_concepts(llava.prefix_ids(prompt), 1),
        llava.prefix_ids(llava.prompt_text(None, [])),
    ]
    ids, mask = llava.pad_left(rows)
    n_img = (ids == llava.image_token_id).sum(dim=1)
    assert n_img[0] == n_img[1] + 1  # one extra placeholder for the concept
    seen = {}
    lm = llava.model.model.language_model
    h = lm.register_forward_pre_hook(lambda m, a, kw: seen.update(kw), with_kwargs=True)
    with torch.no_grad(), llava.injection([[e], []]):
        llava.model(input_ids=ids, attention_mask=mask, pixel_values=pv)
    h.remove()
    feats = llava.frozen_features(pv)[0]
    pos = (ids[0] == llava.image_token_id).nonzero().flatten()[-1]
    token = seen["inputs_embeds"][0, pos]
    assert torch.allclose(token.norm(), feats.norm(dim=-1).mean(), rtol=1e-5)
    assert torch.allclose(token / token.norm(), normalise(e.detach()), atol=1e-6)


def test_llava_regulariser_is_attention_other_tokens_give_the_concept(llava):
    ims = images(1)
    feats = llava.frozen_features(llava.pixel_values(ims))
    e = _embedding(llava)
    prompts = [llava.prompt_text(None, ["rex"])]
    rows = llava.training_rows(prompts, ["rex left of a dog"], [1])
    with torch.no_grad(), llava.injection([[e]], cached=feats):
        out = llava.model(
            input_ids=rows.input_ids,
            attention_mask=rows.attention_mask,
            pixel_values=torch.zeros(1, 3, 32, 32),
            output_attentions=True,
        )
    with torch.no_grad():
        _, reg = llava.training_loss(feats, [[e]], prompts, ["rex left of a dog"], True)
    p = (rows.input_ids[0] == llava.image_token_id).nonzero().flatten()[-1]
    # The paper's direction: column p (attention *to* the concept) from later tokens,
    # not row p (the concept's own attention, the reference code's bug).
    expected = sum(float((a[0, :, p + 1 :, p] ** 2).mean()) for a in out.attentions)
    assert reg.item() == pytest.approx(expected, rel=1e-5)
    own_row = sum(float((a[0, :, p, :] ** 2).mean()) for a in out.attentions)
    assert reg.item() != pytest.approx(own_row, rel=1e-3)


def test_llava_training_loss_and_gradient_are_those_of_one_pass(llava):
    """Training runs the prompt's start and the image without gradients, from the LM's
    cache: the loss and the embedding's gradient are those of the whole sequence at once."""
    feats = llava.frozen_features(llava.pixel_values(images(2)))
    e = _embedding(llava)
    prompts = [llava.prompt_text(None, ["rex"]), llava.prompt_text("What is it?", [])]
    targets = ["rex left of a dog", "a dog"]
    rows = llava.training_rows(prompts, targets, [1, 0])
    size = llava._image_size()
    with llava.injection([[e], []], cached=feats):
        out = llava.model(
            input_ids=rows.input_ids,
            attention_mask=rows.attention_mask,
            pixel_values=torch.zeros(2, 3, size, size),
            labels=rows.labels,
        )
    (whole,) = torch.autograd.grad(out.loss, e)
    loss, _ = llava.training_loss(feats, [[e], []], prompts, targets, False)
    (split,) = torch.autograd.grad(loss, e)
    assert loss.item() == pytest.approx(out.loss.item(), rel=1e-5)
    assert torch.allclose(split, whole, rtol=1e-4, atol=1e-8)
