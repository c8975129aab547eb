"""The toy world's word-level tokenizer, saved as a ``PreTrainedTokenizerFast``."""

from __future__ import annotations

from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from photod_lab.toyworld.render import SHAPES
from photod_lab.toyworld.scenes import BASE_COLOURS, COUNT_WORDS, NAMES

SPECIALS = ("<pad>", "<unk>", "<s>", "</s>", "<image>")
CAPTION_PROMPT = "describe the image"
# Words of captions, questions and answers; extra words give a real tokenizer's slack so that
# prompts such as photod's captioning instruction tokenize without <unk>.
EXTRA_WORDS = (
    "a",
    "an",
    "of",
    "left",
    "right",
    "above",
    "below",
    "middle",
    "top",
    "bottom",
    "what",
    "color",
    "colour",
    "is",
    "the",
    "where",
    "how",
    "many",
    "objects",
    "are",
    "there",
    "?",
    ".",
    ",",
    ":",
    "describe",
    "image",
    "please",
    "caption",
    "this",
    "who",
    "and",
    "in",
    "photo",
    "shape",
    "object",
    "yes",
    "no",
    "none",
    "nobody",
    "sks",
    "with",
    "dot",
    "tips",
    "stripes",
    "checks",
    "ring",
    "hat",
    "belly",
    "outline",
)


def vocabulary() -> list[str]:
    """The full vocabulary in id order (special tokens first, so their ids are stable)."""
    words = list(SPECIALS)
    for w in (*BASE_COLOURS, "black", *SHAPES, *NAMES.values(), *COUNT_WORDS, *EXTRA_WORDS):
        if w not in words:
            words.append(w)
    return words


def build_tokenizer(
    padding_side: str = "left", append_eos: bool = False
) -> PreTrainedTokenizerFast:
    """A WordLevel tokenizer that prepends ``<s>``; ``<image>`` is a special added token.

    Generation wants left padding; the toy CLIP pools at ``</s>`` (``append_eos``) and pads
    on the right like open_clip's own tokenizers.
    Special tokens are registered as added tokens before use: the Whitespace pre-tokenizer
    would otherwise split ``<image>`` into ``<``, ``image``, ``>``.
    """
    vocab = {w: i for i, w in enumerate(vocabulary())}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(list(SPECIALS))
    end = " </s>" if append_eos else ""
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A" + end,
        pair="<s> $A $B" + end,
        special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        padding_side=padding_side,
    )
    return fast
