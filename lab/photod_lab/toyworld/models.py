"""Tiny BLIP-2 and LLaVA models built from configs, with real processor objects.

Nothing is downloaded: the architectures are the stock ``transformers`` classes, configured
small enough to train from scratch on two CPU cores. Attention is built eager because the
personalization engine reads attention probabilities.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from transformers import (
    Blip2Config,
    Blip2ForConditionalGeneration,
    Blip2Processor,
    BlipImageProcessor,
    CLIPImageProcessor,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    OPTConfig,
)

from photod_lab.toyworld.tokenizer import build_tokenizer

#: The toy LLaVA's prompt format: the user's text *before* the image, then ``:``. With the
#: question after the image, a 2-4 layer LM never learnt to pick the asked-about object out
#: of a multi-object scene (it answered every "what color is the X ?" of a scene alike:
#: chance level after 170 minutes of training). With the question first, each visual token
#: can check itself against the question in the first layer, and the answer only has to
#: read the tokens that matched.
TOY_LLAVA_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['content'] is string -%}{{ message['content'] + ' ' }}"
    "{%- else -%}"
    "{%- for item in message['content'] if item['type'] == 'text' -%}{{ item['text'] + ' ' }}"
    "{%- endfor -%}"
    "{%- for item in message['content'] if item['type'] == 'image' -%}{{ '<image> ' }}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}:{%- endif -%}"
)
IMAGE_MEAN = [0.5, 0.5, 0.5]
IMAGE_STD = [0.5, 0.5, 0.5]


@dataclass(frozen=True)
class TinySize:
    """Widths and depths of a tiny VLM (shared by both families)."""

    image_size: int = 64
    patch_size: int = 8
    vision_width: int = 96
    vision_layers: int = 2
    lm_width: int = 128
    lm_layers: int = 2
    heads: int = 4
    qformer_layers: int = 2
    num_query_tokens: int = 32

    @property
    def patches(self) -> int:
        """Image tokens per image: the ViT's patch grid."""
        return (self.image_size // self.patch_size) ** 2

    def to_dict(self) -> dict:
        """Plain dict for the manifest."""
        return asdict(self)


def _vision_kwargs(size: TinySize) -> dict:
    return dict(
        hidden_size=size.vision_width,
        intermediate_size=2 * size.vision_width,
        num_hidden_layers=size.vision_layers,
        num_attention_heads=size.heads,
        image_size=size.image_size,
        patch_size=size.patch_size,
        attention_dropout=0.0,
    )


def build_blip2(size: TinySize, seed: int = 0):
    """A randomly initialised tiny BLIP-2 (ViT, Q-Former, OPT) and its ``Blip2Processor``."""
    tok = build_tokenizer()
    image_proc = BlipImageProcessor(
        size={"height": size.image_size, "width": size.image_size},
        image_mean=IMAGE_MEAN,
        image_std=IMAGE_STD,
        do_convert_rgb=True,
    )
    processor = Blip2Processor(image_proc, tok, num_query_tokens=size.num_query_tokens)
    image_token_id = tok.convert_tokens_to_ids("<image>")
    config = Blip2Config(
        vision_config=_vision_kwargs(size),
        qformer_config=dict(
            hidden_size=size.vision_width,
            num_hidden_layers=size.qformer_layers,
            num_attention_heads=size.heads,
            intermediate_size=2 * size.vision_width,
            encoder_hidden_size=size.vision_width,
            cross_attention_frequency=1,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            vocab_size=8,
            max_position_embeddings=8,
        ),
        text_config=OPTConfig(
            vocab_size=len(tok),
            hidden_size=size.lm_width,
            word_embed_proj_dim=size.lm_width,
            num_hidden_layers=size.lm_layers,
            ffn_dim=2 * size.lm_width,
            num_attention_heads=size.heads,
            max_position_embeddings=128,
            dropout=0.0,
            attention_dropout=0.0,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
        ).to_dict(),
        num_query_tokens=size.num_query_tokens,
        image_token_index=image_token_id,
        attn_implementation="eager",
    )
    torch.manual_seed(seed)
    model = Blip2ForConditionalGeneration(config)
    # Query tokens start at zero in transformers (they expect pretrained weights): with all
    # queries equal, every query attends identically and the Q-Former cannot specialise.
    with torch.no_grad():
        model.query_tokens.normal_(0.0, 0.5)
    _fix_generation(model, tok)
    return model, processor


def build_llava(size: TinySize, seed: int = 0):
    """A randomly initialised tiny LLaVA (CLIP vision, projector, Llama) and ``LlavaProcessor``."""
    tok = build_tokenizer()
    image_proc = CLIPImageProcessor(
        size={"shortest_edge": size.image_size},
        crop_size={"height": size.image_size, "width": size.image_size},
        image_mean=IMAGE_MEAN,
        image_std=IMAGE_STD,
        do_convert_rgb=True,
    )
    n_patches = (size.image_size // size.patch_size) ** 2
    # "default" drops the CLS token, so the processor must know there is one extra token.
    processor = LlavaProcessor(
        image_processor=image_proc,
        tokenizer=tok,
        patch_size=size.patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        image_token="<image>",
        chat_template=TOY_LLAVA_CHAT_TEMPLATE,
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(**_vision_kwargs(size)).to_dict(),
        text_config=LlamaConfig(
            vocab_size=len(tok),
            hidden_size=size.lm_width,
            intermediate_size=2 * size.lm_width,
            num_hidden_layers=size.lm_layers,
            num_attention_heads=size.heads,
            num_key_value_heads=size.heads,
            max_position_embeddings=256,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            tie_word_embeddings=False,
        ).to_dict(),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        image_seq_length=n_patches,
        attn_implementation="eager",
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    _fix_generation(model, tok)
    return model, processor


def _fix_generation(model, tok) -> None:
    """Deterministic, short decoding by default (captions must be reproducible)."""
    gc = model.generation_config
    gc.pad_token_id = tok.pad_token_id
    gc.bos_token_id = tok.bos_token_id
    gc.eos_token_id = tok.eos_token_id
    gc.do_sample = False
    gc.max_new_tokens = 16


#: The projections through which a decoder layer writes to the residual stream (Llama, OPT).
_OUTPUT_PROJECTIONS = ("o_proj", "down_proj", "out_proj", "fc2")


def language_layers(model) -> torch.nn.ModuleList:
    """The decoder layers of a BLIP-2 (OPT) or LLaVA (Llama) language model."""
    lm = model.language_model if hasattr(model, "vision_model") else model.model.language_model
    return lm.get_decoder().layers if hasattr(lm, "get_decoder") else lm.layers


def deepen_language_model(model, size: TinySize, seed: int = 0):
    """A copy of trained ``model`` whose LM has ``size.lm_layers`` layers, the extra ones on top.

    The new layers start as the identity (their output projections are zero, so they add
    nothing to the residual stream): the deeper model first computes exactly what the
    trained one did, and training only has to learn what the extra depth adds.
    """
    build = build_blip2 if hasattr(model, "vision_model") else build_llava
    old_layers = len(language_layers(model))
    if size.lm_layers <= old_layers:
        raise ValueError(f"the LM already has {old_layers} layers (asked for {size.lm_layers})")
    deeper, _ = build(size, seed=seed)
    _, unexpected = deeper.load_state_dict(model.state_dict(), strict=False)
    if unexpected:
        raise ValueError(f"weights the deeper model has no place for: {unexpected[:3]}")
    with torch.no_grad():
        for layer in language_layers(deeper)[old_layers:]:
            for name, module in layer.named_modules():
                if name.rsplit(".", 1)[-1] in _OUTPUT_PROJECTIONS:
                    module.weight.zero_()
                    if module.bias is not None:
                        module.bias.zero_()
    deeper.generation_config = model.generation_config
    return deeper


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())
