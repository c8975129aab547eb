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
