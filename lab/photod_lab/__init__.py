"""photod's lab: what measures the product, apart from it.

``photod_lab.toyworld`` is a synthetic world with tiny BLIP-2 / LLaVA / CLIP models trained on
it (shipped as fixtures, each with its photod settings beside its weights);
``photod_lab.evaluation`` runs the MyVLM protocol (``photod eval``) through the product's own
concept training and captioning.
"""
