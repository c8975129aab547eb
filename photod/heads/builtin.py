"""The built-in heads, registered through the same ``photod_heads`` hook a plugin uses.

Entry point (pyproject.toml): ``builtin_heads = "photod.heads.builtin"`` in the ``photod``
group.
"""

from __future__ import annotations

from photod.plugins import hookimpl


@hookimpl
def photod_heads() -> list[type]:
    """The person head, the object/pet head and the CLIP zero-shot tagger."""
    from photod.heads.object import ObjectHead
    from photod.heads.person import PersonHead
    from photod.heads.zero_shot import ZeroShotTags

    return [PersonHead, ObjectHead, ZeroShotTags]
