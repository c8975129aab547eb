"""Tiny real ``transformers`` VLMs built from configs (random weights, nothing downloaded).

One builder per supported LM family: BLIP-2 with OPT and with T5, LLaVA with Llama and with
Qwen2. Attention is eager, as photod loads models for training.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from tokenizers import Tokenizer, models, pre_tokenizers, processors
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
    PreTrainedTokenizerFast,
    Qwen2Config,
    T5Config,
)

from photod.vlm.blip2 import Blip2Session
from photod.vlm.llava import LlavaSession

WORDS = [
    "a",
    "red",
    "blue",
    "green",
    "circle",
    "square",
    "star",
    "left",
    "of",
    "above",
    "dog",
    "cat",
    "rex",
    "sks",
    "luna",
    "what",
    "is",
    "where",
    "doing",
    "describe",
    "the",
    "image",
    "please",
    "caption",
    "this",
    "and",
    "question",
    "answer",
    ":",
    "?",
    ".",
]
SPECIALS = ("<pad>", "<unk>", "<s>", "</s>", "<image>")
IMAGE = 32
PATCH = 8
VISION = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    image_size=IMAGE,
    patch_size=PATCH,
    attention_dropout=0.0,
)


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A word-level tokenizer with ``<image>`` registered as a special token."""
    vocab = {w: i for i, w in enumerate([*SPECIALS, *dict.fromkeys(WORDS)])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(list(SPECIALS))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", vocab["<s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        padding_side="left",
    )


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Give every weight a fan-in scaled random value.

    Some transformers 5 ``_init_weights`` paths leave vision weights near zero, which makes
    every image token identical after the encoder's layer norm: hooks cannot be told apart
    from no-ops on such a model.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) / p[0].numel() ** 0.5)
            elif "embedding" in name or "query_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def _lm_common(tok) -> dict:
    return dict(
        vocab_size=len(tok),
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )


def tiny_blip2(lm: str = "opt", seed: int = 0):
    """A tiny BLIP-2 with an OPT (decoder-only) or T5 (encoder-decoder) LM."""
    tok = tiny_tokenizer()
    proc = Blip2Processor(
        BlipImageProcessor(size={"height": IMAGE, "width": IMAGE}), tok, num_query_tokens=4
    )
    if lm == "opt":
        text = OPTConfig(
            hidden_size=32,
            word_embed_proj_dim=32,
            num_hidden_layers=2,
            ffn_dim=64,
            num_attention_heads=4,
            max_position_embeddings=64,
            **_lm_common(tok),
        ).to_dict()
    else:
        text = T5Config(
            d_model=32,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_decoder_layers=2,
            num_heads=4,
            decoder_start_token_id=tok.pad_token_id,
            **_lm_common(tok),
        ).to_dict()
    config = Blip2Config(
        vision_config=VISION,
        qformer_config=dict(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            encoder_hidden_size=32,
            cross_attention_frequency=1,
            vocab_size=8,
            max_position_embeddings=8,
        ),
        text_config=text,
        num_query_tokens=4,
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        attn_implementation="eager",
    )
    torch.manual_seed(seed)
    model = Blip2ForConditionalGeneration(config)
    randomise(model, seed)
    return model.eval(), proc


def tiny_llava(lm: str = "llama", seed: int = 0):
    """A tiny LLaVA with a Llama or Qwen2 LM."""
    tok = tiny_tokenizer()
    proc = LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE}
        ),
        tokenizer=tok,
        patch_size=PATCH,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        image_token="<image>",
    )
    cls = LlamaConfig if lm == "llama" else Qwen2Config
    text = cls(
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=False,
        **_lm_common(tok),
    ).to_dict()
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(**VISION).to_dict(),
        text_config=text,
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        image_seq_length=(IMAGE // PATCH) ** 2,
        attn_implementation="eager",
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    randomise(model, seed)
    return model.eval(), proc


FAMILIES = {
    "blip2-opt": lambda: Blip2Session(*tiny_blip2("opt"), model_id="tiny-blip2-opt"),
    "blip2-t5": lambda: Blip2Session(*tiny_blip2("t5"), model_id="tiny-blip2-t5"),
    "llava-llama": lambda: LlavaSession(*tiny_llava("llama"), model_id="tiny-llava-llama"),
    "llava-qwen2": lambda: LlavaSession(*tiny_llava("qwen2"), model_id="tiny-llava-qwen2"),
}


def make_session(family: str):
    """A tiny session of one LM family, with short outputs and LLaVA prompts set."""
    s = FAMILIES[family]()
    s.settings.max_new_tokens = 6
    if s.family == "llava":
        s.settings.caption_prompt = "describe the image {concepts}"
        s.settings.plain_caption_prompt = "describe the image"
    return s


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def session(request):
    """A tiny session of each supported LM family."""
    return make_session(request.param)


def images(n: int, seed: int = 0) -> list[Image.Image]:
    """Random RGB images."""
    rng = np.random.default_rng(seed)
    return [
        Image.fromarray(rng.integers(0, 256, (IMAGE, IMAGE, 3), dtype=np.uint8)) for _ in range(n)
    ]
