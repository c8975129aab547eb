"""MyVLM's "Communicate" stage: concept embeddings appended to a VLM's visual tokens.

Backends (BLIP-2, the LLaVA family) live behind :class:`photod.vlm.base.VlmSession`; the
concept-token hooks are in :mod:`photod.vlm.blip2` and :mod:`photod.vlm.llava`; one
embedding trains in :func:`photod.vlm.training.train_embedding`, and ``photod concept
train`` calls :func:`photod.vlm.concept_training.train_concept_embedding`. Importing this
package loads no model and touches no file.
"""
