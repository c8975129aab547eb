"""The feature model's training groups: a look-alike scene is a hard negative, not a positive."""

from photod_lab.toyworld.train_features import SceneSource, batch_of, identity


def test_lookalike_group_shares_shape_and_colour_but_not_the_instance() -> None:
    source = SceneSource(3)
    groups = [source.group() for _ in range(20)]
    for a, b, look in groups:
        shared = set(map(identity, a.objects)) & set(map(identity, b.objects))
        assert len(shared) == 1
        (mine,) = shared
        alike = [i for i in map(identity, look.objects) if i[:2] == mine[:2]]
        assert len(alike) == 1 and alike[0] != mine
    # In a batch the look-alike's patches carry another instance id than the shared object's.
    _, lab = batch_of(groups[:2], [tuple(s.image() for s in g) for g in groups[:2]])
    inst = lab["inst"].reshape(6, -1)
    shared_ids = set(inst[0].tolist()) & set(inst[1].tolist()) - {-1}
    assert shared_ids and not shared_ids & set(inst[2].tolist())


def test_lookalike_loss_reads_the_shared_object_and_its_look_alike() -> None:
    """``group_parts`` finds, per group, the shared object's patches in both scenes and the
    look-alike's; the margin loss is zero once the pair beats the look-alike by the margin,
    and positive while the look-alike is as close."""
    import torch

    from photod_lab.toyworld.train_features import group_parts, lookalike_loss

    source = SceneSource(4)
    groups = [source.group() for _ in range(6)]
    _, lab = batch_of(groups, [tuple(s.image() for s in g) for g in groups])
    parts = group_parts(lab, len(groups))
    assert parts
    n = lab["inst"].reshape(len(groups) * 3, -1).shape[1]
    inst = lab["inst"]
    for a, b, c in parts:
        # Scene a's and b's patches hold one instance, c's another of the same shape.
        assert len(set(inst[a].tolist())) == 1 and set(inst[a].tolist()) == set(inst[b].tolist())
        assert set(inst[c].tolist()).isdisjoint(inst[a].tolist())
        assert a.min() // n + 1 == b.min() // n and b.min() // n + 1 == c.min() // n
        assert (lab["shape"][a][0], lab["colour"][a][0]) == (
            lab["shape"][c][0],
            lab["colour"][c][0],
        )
    # Tokens that encode the instance id: the pair is identical, the look-alike orthogonal.
    tokens = torch.nn.functional.one_hot(inst.clamp(min=0), int(inst.max()) + 1).float()
    assert lookalike_loss(tokens, parts, 0.2, 0.02).item() == 0.0
    # Tokens that encode only shape and colour: the look-alike is as close as the pair.
    same = torch.nn.functional.one_hot(lab["shape"].clamp(min=0) * 16 + lab["colour"].clamp(min=0))
    # (about the margin: the soft maxima differ only by how many patch pairs each counts).
    assert 0.15 < lookalike_loss(same.float(), parts, 0.2, 0.02).item() < 0.25
