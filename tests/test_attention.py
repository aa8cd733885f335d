import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils import attention as A
from course_utils.scenes import make_scenes


# ---------------------------------------------------------------- attention core vs torch

def test_softmax_matches_torch():
    s = torch.randn(4, 7) * 30                       # large scores: the max shift must prevent overflow
    torch.testing.assert_close(A.softmax(s), F.softmax(s, -1))
    mask = torch.rand(4, 7) > 0.3
    mask[:, 0] = True
    expected = F.softmax(s.masked_fill(~mask, float("-inf")), -1)
    got = A.softmax(s, mask)
    torch.testing.assert_close(got, expected)
    assert (got[~mask] == 0).all()


def test_dot_product_attention_matches_torch():
    q, k, v = torch.randn(3, 8), torch.randn(3, 5, 8), torch.randn(3, 5, 6)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 1, 0, 1]], dtype=torch.bool)
    ctx, w = A.dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q.unsqueeze(1), k, v, attn_mask=mask.unsqueeze(1)).squeeze(1)
    torch.testing.assert_close(ctx, ref)
    torch.testing.assert_close(w.sum(-1), torch.ones(3))
    with pytest.raises(ValueError, match="keys must be"):
        A.dot_product_attention(q, torch.randn(3, 5, 4), v)
    with pytest.raises(TypeError):
        A.dot_product_attention(q.numpy(), k, v)


def test_additive_attention_written_out():
    att = A.AdditiveAttention(4, 6, hidden=5)
    q, k = torch.randn(2, 4), torch.randn(2, 3, 6)
    ctx, w = att(q, k)
    scores = torch.stack([torch.stack([att.v(torch.tanh(att.W_q(q[b]) + att.W_k(k[b, l]))).squeeze()
                                       for l in range(3)]) for b in range(2)])
    torch.testing.assert_close(w, F.softmax(scores, -1))
    torch.testing.assert_close(ctx, torch.einsum("bl,bld->bd", w, k))


def test_decoder_shapes_and_masking():
    for context_in_state in (True, False):
        dec = A.AttentionDecoder(10, 6, hidden=8, emb=4, context_in_state=context_in_state)
        keys = torch.randn(2, 5, 6)
        mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
        logits, w = dec(keys, torch.ones(2, 4, dtype=torch.long), mask)
        assert logits.shape == (2, 4, 10) and w.shape == (2, 4, 5)
        assert (w[0, :, 3:] == 0).all()
        tokens, w2 = dec.greedy(keys, 1, 2, 6, mask)
        assert tokens.shape == (2, 6) and w2.shape == (2, 6, 5)


# ---------------------------------------------------------------- vocabulary

def test_vocab_round_trip_and_mismatch():
    v = A.caption_vocab()
    ids = v.encode("a red circle left of a blue square")
    assert v.decode(ids + [2, 5, 6]) == "a red circle left of a blue square".split()
    inp, tgt = v.batch(["a red circle", "a red circle left of a blue square"])
    assert inp.shape == tgt.shape == (2, 9)
    assert inp[0, 0] == 1 and tgt[0, 3] == 2 and tgt[0, 4:].eq(0).all()
    with pytest.raises(ValueError, match="caption vocabulary mismatch.*purple"):
        v.encode("a purple circle")
    with pytest.raises(ValueError, match="mismatch"):
        v.check_same(A.Vocab(["a", "red"]))
    v.check_same(A.caption_vocab())


def test_model_rejects_other_vocabulary_and_bad_images():
    model = A.ShowAttendTell(width=4, key_dim=8, hidden=8)
    s = make_scenes(2, size=32, n_objects=2, seed=0)
    maps = model.attend(s.images, s.captions, vocab=A.caption_vocab())
    assert maps.shape == (2, 9, 8, 8)
    torch.testing.assert_close(maps.sum((-1, -2)), torch.ones(2, 9))
    with pytest.raises(ValueError, match="mismatch"):
        model.attend(s.images, s.captions, vocab=A.Vocab(["a", "red", "disc"]))
    with pytest.raises(ValueError, match="mismatch"):
        model.attend(s.images, ["a red hexagon", "a red circle"])
    with pytest.raises(ValueError, match="channels"):
        model.caption(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match="one caption per image"):
        model.attend(s.images, s.captions[:1])
    captions, maps = model.caption(s.images, max_len=5)
    assert len(captions) == 2 and maps.shape == (2, 5, 8, 8)


# ---------------------------------------------------------------- measurements

def test_object_words_and_peaks():
    assert A.object_words("a red circle left of a blue square") == [(1, 0), (2, 0), (6, 1), (7, 1)]
    maps = torch.zeros(1, 4, 4)
    maps[0, 2, 3] = 1.0
    assert A.attention_peaks(maps, 8).tolist() == [[28.0, 20.0]]
    assert A.in_box((28, 20), (24, 16, 32, 24)) and not A.in_box((32, 20), (24, 16, 32, 24))


class OracleCaptioner:
    """Attends exactly at each object's centre (or at a fixed corner): pointing must be 1 (or ~0)."""

    def __init__(self, scenes, stride=4, wrong=False):
        self.scenes, self.wrong = scenes, wrong
        self.encoder = type("E", (), {"stride": stride})()

    def attend(self, images, captions):
        size = images.shape[-1] // self.encoder.stride
        T = max(len(c.split()) for c in captions) + 1
        maps = torch.zeros(len(images), T, size, size)
        for n, c in enumerate(captions):
            for pos, obj in A.object_words(c):
                x0, y0, x1, y1 = self.scenes.boxes[n][obj]
                cx, cy = ((x0 + x1) // 2, (y0 + y1) // 2) if not self.wrong else (0, 0)
                maps[n, pos, cy // self.encoder.stride, cx // self.encoder.stride] = 1.0
        return maps


def test_pointing_accuracy_on_oracles():
    s = make_scenes(30, size=32, n_objects=2, seed=4)
    right = A.pointing_accuracy(OracleCaptioner(s), s)
    assert right["all"] == right["colour"] == right["shape"] == 1.0 and right["n_words"] == 120
    wrong = A.pointing_accuracy(OracleCaptioner(s, wrong=True), s)
    assert wrong["all"] < 0.2
    with pytest.raises(TypeError):
        A.pointing_accuracy(OracleCaptioner(s), s.images)


class FixedCellCaptioner(OracleCaptioner):
    """Attends at one fixed cell for every word."""

    def __init__(self, scenes, cell, stride=4):
        super().__init__(scenes, stride)
        self.cell = cell

    def attend(self, images, captions):
        maps = super().attend(images, captions).zero_()
        maps[..., self.cell[0], self.cell[1]] = 1.0
        return maps


def test_pointing_chance_is_the_mean_over_every_fixed_cell():
    """Chance = pointing accuracy averaged over all H*W one-cell attention maps (an independent count)."""
    s = make_scenes(20, size=32, n_objects=2, seed=5)
    by_cell = [A.pointing_accuracy(FixedCellCaptioner(s, (r, c)), s)["all"] for r in range(8) for c in range(8)]
    assert abs(A.pointing_chance(s, 4) - sum(by_cell) / 64) < 1e-12
    assert 0 < A.pointing_chance(s, 4) < 0.3
    with pytest.raises(TypeError, match="Scenes"):
        A.pointing_chance(s.images)
    with pytest.raises(ValueError, match="stride"):
        A.pointing_chance(s, 0)


# ---------------------------------------------------------------- translation pairs

def test_pairs_are_deterministic_and_alignment_is_true():
    p = A.make_translation_pairs(300, seed=5)
    assert p == A.make_translation_pairs(300, seed=5)
    assert p != A.make_translation_pairs(300, seed=6)
    lexicon = {**A.NOUNS, **A.VERBS, **A.SAY_VERBS, **A.ADVERBS, **A.DETERMINERS, **A.COMPLEMENTISERS}
    many_to_one = verb_final = 0
    for src, tgt, ali in zip(*p):
        assert len(tgt) == len(ali)
        # independent check: the aligned source words are the dictionary entry of the target word
        for word, positions in zip(tgt, ali):
            assert lexicon[tuple(src[i] for i in positions)] == word
            many_to_one += len(positions) > 1
        # every source word is translated exactly once
        assert sorted(i for a in ali for i in a) == list(range(len(src)))
        if any(w in tgt for w in A.COMPLEMENTISERS.values()):
            assert tgt[-1] in A.VERBS.values()          # the subordinate clause is verb-final
            verb_final += 1
    assert many_to_one > 50 and verb_final > 50
    with pytest.raises(ValueError):
        A.make_translation_pairs(0)


def test_alignment_accuracy_of_the_true_alignment_is_one():
    p = A.make_translation_pairs(20, seed=1)
    T = max(len(t) for t in p.tgt) + 1
    S = max(len(s) for s in p.src) + 1
    w = torch.zeros(20, T, S)
    for n, ali in enumerate(p.alignment):
        for t, positions in enumerate(ali):
            w[n, t, positions[-1]] = 1.0
    assert A.alignment_accuracy(None, p, weights=w) == 1.0
    assert A.alignment_accuracy(None, p, weights=w.roll(1, dims=-1)) < 0.3


def test_source_vocabulary_mismatch():
    src, tgt = A.translation_vocabs()
    model = A.Seq2Seq(src, tgt, emb=4, hidden=8)
    with pytest.raises(ValueError, match="source vocabulary mismatch.*unicorn"):
        model.translate([["the", "unicorn", "sees", "the", "dog"]])


def test_tiny_training_runs_and_is_cached():
    model, info = A.train_translator(verbose=False, n_train=200, epochs=1)
    again, info2 = A.train_translator(verbose=False, n_train=200, epochs=1)
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert info["train_seconds"] == info2["train_seconds"] and len(info["losses"]) == 1
    with pytest.raises(ValueError, match="unknown option"):
        A.train_translator(verbose=False, n_layers=3)
    cap, cinfo = A.train_captioner(verbose=False, n_train=64, epochs=1, width=4, key_dim=8, hidden=8)
    assert set(A.caption_accuracy(cap, make_scenes(8, 32, 2, seed=9))) == {"exact", "words"}


def test_captioners_trained_side_by_side_equal_those_trained_here(monkeypatch):
    tiny = dict(n_train=48, epochs=1, width=4, key_dim=8, hidden=8)
    both = A.train_captioners([3, 4], processes=2, verbose=False, **tiny)       # two worker processes
    alone = A.train_captioner(verbose=False, seed=4, **tiny)                    # loaded from their cache
    for a, b in zip(both[4][0].state_dict().values(), alone[0].state_dict().values()):
        torch.testing.assert_close(a, b)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(__import__("tempfile").mkdtemp()))  # retrain here, in-process
    fresh = A.train_captioner(verbose=False, seed=4, **tiny)
    for a, b in zip(both[4][0].state_dict().values(), fresh[0].state_dict().values()):
        torch.testing.assert_close(a, b)
    assert not all(torch.equal(a, b) for a, b in zip(both[3][0].state_dict().values(),
                                                      both[4][0].state_dict().values()))
    with pytest.raises(ValueError, match="distinct"):
        A.train_captioners([1, 1])


def test_seed_offset_shifts_training_and_keeps_cache_files_apart(monkeypatch):
    from course_utils import cache, train
    tiny = dict(n_train=48, epochs=1, width=4, key_dim=8, hidden=8, seed=2)
    base, _ = A.train_captioner(verbose=False, **tiny)
    path = cache.cache_path("show-attend-tell", {**A.CAPTIONER_DEFAULTS, **tiny})
    monkeypatch.setenv(train.SEED_OFFSET_ENV, "1")
    shifted_path = cache.cache_path("show-attend-tell", {**A.CAPTIONER_DEFAULTS, **tiny})
    assert path.exists() and shifted_path != path and not shifted_path.exists()
    assert train.run_seed(2) == 3
    shifted, _ = A.train_captioner(verbose=False, **tiny)    # initial weights and batch order of seed 3
    assert shifted_path.exists()
    assert not all(torch.equal(a, b) for a, b in zip(base.state_dict().values(), shifted.state_dict().values()))
    monkeypatch.setenv(train.SEED_OFFSET_ENV, "-1")
    with pytest.raises(ValueError, match="COURSE_SEED_OFFSET"):
        train.run_seed(0)


def test_word_probabilities_and_occlusion_check():
    cap, _ = A.train_captioner(verbose=False, n_train=48, epochs=1, width=4, key_dim=8, hidden=8)
    s = make_scenes(6, 32, 2, seed=11)
    probs = cap.word_probabilities(s.images, s.captions)
    inp, tgt = cap.vocab.batch(s.captions)
    with torch.no_grad():
        logits, _ = cap(s.images, inp)
    nll = F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), reduction="none").view(tgt.shape)
    torch.testing.assert_close(probs, torch.exp(-nll))
    check = A.occlusion_check(cap, s)
    kinds = ("attended", "random", "in_object", "object")
    assert check["n_words"] == 6 * 4 and set(check) == {*kinds, "n_words", "per_word", "word_scenes"}
    assert check["word_scenes"] == [n for n in range(6) for _ in range(4)]
    assert all(-1 <= check[k] <= 1 for k in kinds)
    for k in kinds:   # per-word drops, one per object word, whose mean is the reported drop
        assert len(check["per_word"][k]) == 24 and abs(np.mean(check["per_word"][k]) - check[k]) < 1e-6
    with pytest.raises(ValueError, match="one caption per image"):
        cap.word_probabilities(s.images, s.captions[:2])
    with pytest.raises(TypeError, match="Scenes"):
        A.occlusion_check(cap, s.images)


def test_word_saliency_matches_captum_input_x_gradient():
    """word_saliency against captum's InputXGradient on log P(word t), pooled onto the same grid."""
    from captum.attr import InputXGradient
    torch.manual_seed(0)
    model = A.ShowAttendTell().eval()
    s = make_scenes(5, size=32, n_objects=2, seed=9)
    ours = A.word_saliency(model, s.images, s.captions)
    inp, tgt = model.vocab.batch(s.captions)
    stride = model.encoder.stride
    assert ours.shape == (5, inp.shape[1], 32 // stride, 32 // stride)

    def log_p(x):
        logits, _ = model(x, inp)
        return logits.log_softmax(-1).gather(-1, tgt[..., None])[..., 0]

    for t in (0, 2, inp.shape[1] - 1):
        theirs = InputXGradient(log_p).attribute(s.images.clone(), target=t).sum(1, keepdim=True).abs()
        theirs = torch.nn.functional.avg_pool2d(theirs, stride)[:, 0] * stride ** 2
        assert torch.allclose(ours[:, t], theirs, rtol=1e-4, atol=1e-7), t
    # Scored like attention: the oracle maps through `maps=` give the oracle's accuracy.
    oracle = OracleCaptioner(s).attend(s.images, s.captions)
    assert A.pointing_accuracy(model, s, maps=oracle)["all"] == 1.0
    with pytest.raises(ValueError, match="scenes"):
        A.pointing_accuracy(model, s, maps=oracle[:3])
    with pytest.raises(ValueError, match="one caption per image"):
        A.word_saliency(model, s.images, s.captions[:2])


def test_pointing_breakdown_splits_right_other_background():
    s = make_scenes(20, size=32, n_objects=2, seed=4)
    right = A.pointing_breakdown(OracleCaptioner(s), s)
    assert right["all"] == {"right": 1.0, "other": 0.0, "background": 0.0} and right["misses"] == []
    assert right["hits"] == [True] * 80
    # every word pointed at the other object's box
    swapped = s._replace(boxes=[b[::-1] for b in s.boxes])
    other = A.pointing_breakdown(OracleCaptioner(s), swapped)
    assert other["all"]["other"] == 1.0
    assert all(d > 0 for *_, d in other["misses"]) and len(other["misses"]) == 80
    corner = A.pointing_breakdown(FixedCellCaptioner(s, (0, 0)), s)
    assert abs(sum(corner["all"].values()) - 1) < 1e-9
    assert {(r, c) for _, _, r, c, _ in corner["misses"]} <= {(0, 0)}
    with pytest.raises(TypeError):
        A.pointing_breakdown(OracleCaptioner(s), s.images)
    with pytest.raises(ValueError, match="one row per scene"):
        A.pointing_breakdown(OracleCaptioner(s), s, maps=torch.zeros(3, 9, 8, 8))


def test_brightest_cell_maps_point_at_an_object_but_not_the_right_one():
    s = make_scenes(50, size=32, n_objects=2, seed=5)
    maps = A.brightest_cell_maps(s)
    assert maps.shape[:2] == (50, max(len(c.split()) for c in s.captions) + 1) and maps.shape[2:] == (8, 8)
    where = A.pointing_breakdown(OracleCaptioner(s), s, maps=maps)["all"]
    assert where["background"] == 0.0 and where["right"] == where["other"] == 0.5
    with pytest.raises(TypeError):
        A.brightest_cell_maps(s.images)
    with pytest.raises(ValueError):
        A.brightest_cell_maps(s, positions=0)


def test_untrained_captioner_is_the_initialisation_of_train_captioner():
    a, b = A.untrained_captioner(3, width=4, key_dim=8, hidden=8), A.untrained_captioner(3, width=4, key_dim=8, hidden=8)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    c = A.untrained_captioner(4, width=4, key_dim=8, hidden=8)
    assert not torch.equal(a.decoder.out.weight, c.decoder.out.weight)
    with pytest.raises(ValueError, match="unknown option"):
        A.untrained_captioner(0, depth=3)


def test_side_by_side_training_of_both_kinds_fills_the_cache(monkeypatch, tmp_path):
    from course_utils import cache
    tiny_cap = dict(n_train=48, epochs=1, width=4, key_dim=8, hidden=8, seed=5)
    tiny_tr = dict(n_train=60, epochs=1, emb=4, hidden=8, seed=5)
    jobs = [("captioner", tiny_cap), ("translator", tiny_tr)]
    assert A.train_side_by_side(jobs, verbose=False) == 2          # two worker processes
    assert A.train_side_by_side(jobs, verbose=False) == 0          # both cached now
    assert cache.cache_path("show-attend-tell", {**A.CAPTIONER_DEFAULTS, **tiny_cap}).exists()
    # the workers follow the caller's cache folder as it is now, not as it was when they were first started
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    assert A.train_side_by_side(jobs, verbose=False) == 2
    assert cache.cache_path("seq2seq-attention", {**A.TRANSLATOR_DEFAULTS, **tiny_tr}).exists()
    worker_trained, _ = A.train_translator(verbose=False, **tiny_tr)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "fresh"))
    here, _ = A.train_translator(verbose=False, **tiny_tr)          # trained in this process
    for a, b in zip(worker_trained.state_dict().values(), here.state_dict().values()):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="unknown kind 'painter'"):
        A.train_side_by_side([("painter", {})])
    with pytest.raises(ValueError, match="unknown option.*width.*translator"):
        A.train_side_by_side([("translator", {"width": 3})])
    with pytest.raises(ValueError, match="processes"):
        A.train_side_by_side(jobs, processes=0)


def test_shuffled_captions_control_trains_on_the_same_captions_in_another_order(monkeypatch):
    seen = []
    batch = A.Vocab.batch
    monkeypatch.setattr(A.Vocab, "batch", lambda self, sentences, *a, **k: (seen.append(list(sentences)),
                                                                            batch(self, sentences, *a, **k))[1])
    tiny = dict(n_train=40, epochs=1, width=4, key_dim=8, hidden=8, seed=3)
    A.train_captioner(verbose=False, **tiny)
    A.train_captioner(verbose=False, shuffle_captions=True, **tiny)
    plain, shuffled = seen[0], seen[-1]
    assert sorted(plain) == sorted(shuffled) and plain != shuffled
    truth = make_scenes(40, 32, 2, seed=3 + 1000).captions
    assert plain == truth and sum(a == b for a, b in zip(shuffled, truth)) < 10


def test_order_rule_maps_point_by_word_order_alone():
    s = make_scenes(60, 32, 2, seed=21)
    maps = A.order_rule_maps(s)
    assert maps.shape[:2] == (60, max(len(c.split()) for c in s.captions) + 1)
    W = maps.shape[-1]
    for n, caption in enumerate(s.captions):
        cols = {obj: int(maps[n, pos].argmax()) % W for pos, obj in A.object_words(caption)}
        assert cols[0] < cols[1]            # the first object named is looked for left of the second
        for obj in (0, 1):                  # a colour word and its shape word get the same map
            colour_pos, shape_pos = [pos for pos, o in A.object_words(caption) if o == obj]
            assert torch.equal(maps[n, colour_pos], maps[n, shape_pos])
        assert torch.equal(maps[n, 0], A.brightest_cell_maps(s)[n, 0])       # other positions: the brightest cell
    class Grid:
        class encoder:
            stride = 4
    assert A.pointing_accuracy(Grid, s, maps=maps)["all"] > 0.95   # word order and pixels alone find the object
    with pytest.raises(TypeError, match="Scenes"):
        A.order_rule_maps(s.images)


def test_recoloured_scenes_swap_the_two_colours_and_keep_the_rest():
    from course_utils.scenes import RGB
    s = make_scenes(40, 32, 2, seed=5)
    swapped, keep = A.recoloured_scenes(s)
    assert keep == [n for n, c in enumerate(s.colours) if c[0] != c[1]] and len(keep) > 20
    assert swapped.captions == [s.captions[n] for n in keep] and swapped.boxes == [s.boxes[n] for n in keep]
    for i, n in enumerate(keep):
        for obj in (0, 1):
            x0, y0, x1, y1 = s.boxes[n][obj]
            before, after = s.images[n, :, y0:y1, x0:x1], swapped.images[i, :, y0:y1, x0:x1]
            drawn = (before - torch.tensor(RGB[s.colours[n][obj]])[:, None, None]).abs().sum(0) < 1e-6
            assert torch.allclose(after[:, drawn], torch.tensor(RGB[s.colours[n][1 - obj]])[:, None].expand(-1, int(drawn.sum())))
            assert torch.equal(after[:, ~drawn], before[:, ~drawn])
    same = make_scenes(40, 32, 2, seed=5)._replace(colours=[["red", "red"]] * 40)
    with pytest.raises(ValueError, match="different colours"):
        A.recoloured_scenes(same)


def test_colour_swap_check_shares_and_a_model_that_follows_the_colour():
    s = make_scenes(30, 32, 2, seed=8)
    cap, _ = A.train_captioner(verbose=False, n_train=48, epochs=1, width=4, key_dim=8, hidden=8)
    out = A.colour_swap_check(cap, s)
    for kind in ("colour", "shape"):
        assert set(out[kind]) == {"order", "named colour", "background"}
        assert abs(sum(out[kind].values()) - 1) < 1e-9
    swapped, _ = A.recoloured_scenes(s)
    assert out["n_words"] == 4 * len(swapped.images)


def test_keys_without_cell_features_are_the_ablation():
    tiny = dict(n_train=40, epochs=1, width=4, key_dim=8, hidden=8, seed=1)
    plain, _ = A.train_captioner(verbose=False, **tiny)
    ablated, _ = A.train_captioner(verbose=False, cell_features=False, **tiny)
    assert plain.encoder.mix.in_channels == 2 * 4 + 5 and ablated.encoder.mix.in_channels == 2 * 4
    s = make_scenes(4, 32, 2, seed=2)
    keys, grid = ablated.encoder(s.images)
    assert keys.shape == (4, 64, 8) and grid == (8, 8)
    assert A.untrained_captioner(0, cell_features=False, width=4, key_dim=8, hidden=8).encoder.mix.in_channels == 8
