"""Attention as explanation, measured: pointing accuracy, alignment accuracy, caption accuracy, time.

Trains every model from scratch in a fresh cache folder (so the training time is real), then
measures on held-out data:

* show-attend-tell on two-object scenes: pointing accuracy (share of colour/shape words whose
  attention maximum lies in that object's box; goal >= 0.90) and caption accuracy (greedy);
* seq2seq on the synthetic language pair: alignment accuracy (argmax attention on a truly aligned
  source word; goal >= 0.95) and exact translation accuracy.

Each is run in the course's default design and one variant, as evidence for the notebook's
discussion of when attention is an explanation, and the captioner also as a shuffled-label control
(training captions permuted across scenes; seeds 0, 1, 2): it can learn how captions go but not
which words name what it sees; and without the keys' mean-colour and coordinate channels (seeds
0, 1, 2), which measures how much of the pointing that design choice buys.
Writes benchmarks/results/attention.json.

    python benchmarks/attention.py
"""
import json
import os
import platform
import tempfile
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results" / "attention.json"
N_TEST, TEST_SEED = 500, 7777
SHUFFLED_SEEDS = (0, 1, 2)


def object_word_accuracy(A, model, scenes) -> float:
    """Share of colour and shape words the greedy caption gets right, position by position.

    Chance for a model that knows how captions go but not what it sees: 1 / (number of colours or
    shapes). The structure words ("a", "left of") are left out: any fluent model writes them.
    """
    written, _ = model.caption(scenes.images)
    hits = []
    for text, truth in zip(written, scenes.captions):
        words = text.split()
        hits += [pos < len(words) and words[pos] == truth.split()[pos] for pos, _ in A.object_words(truth)]
    return sum(hits) / len(hits)


def where_attention_peaks(A, model, scenes) -> dict:
    """Share of object words whose attention peak is on the background, and the most-used cell's share."""
    where = A.pointing_breakdown(model, scenes)["all"]
    maps = model.attend(scenes.images, scenes.captions)
    peaks = [int(maps[n, pos].argmax()) for n, caption in enumerate(scenes.captions)
             for pos, _ in A.object_words(caption)]
    top = max(peaks.count(c) for c in set(peaks))
    return {"attention_on_background": where["background"], "top_cell_share": top / len(peaks)}


def main():
    os.environ["COURSE_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-attention-")
    from course_utils import attention as A
    from course_utils.cache import atomic_write_bytes
    from course_utils.scenes import COLOURS, SHAPES, make_scenes

    rows = []
    cfg = A.CAPTIONER_DEFAULTS
    scenes = make_scenes(N_TEST, cfg["size"], cfg["n_objects"], seed=TEST_SEED)
    captioners = [("show-attend-tell (default: context also in the GRU state)", {}),
                  ("show-attend-tell, state sees only words", {"context_in_state": False})]
    captioners += [(f"show-attend-tell, captions shuffled across scenes (seed {s})",
                    {"shuffle_captions": True, "seed": s}) for s in SHUFFLED_SEEDS]
    captioners += [(f"show-attend-tell, keys without each cell's colour and coordinates (seed {s})",
                    {"cell_features": False, "seed": s}) for s in SHUFFLED_SEEDS]
    translators = [("seq2seq (default: keys = embedding + bi-GRU state)", {}),
                   ("seq2seq, keys = bi-GRU state only", {"keys": "gru"})]
    # every model trains first, side by side on one thread each (train_cpu_seconds stays comparable)
    A.train_side_by_side([("captioner", o) for _, o in captioners] + [("translator", o) for _, o in translators],
                         processes=4, verbose=False)
    for name, overrides in captioners:
        model, info = A.train_captioner(verbose=False, **overrides)
        point, caps = A.pointing_accuracy(model, scenes), A.caption_accuracy(model, scenes)
        rows.append({"model": name, "overrides": overrides, "pointing_accuracy": point["all"],
                     "pointing_colour_words": point["colour"], "pointing_shape_words": point["shape"],
                     "caption_accuracy_exact": caps["exact"], "caption_word_accuracy": caps["words"],
                     "object_word_accuracy": object_word_accuracy(A, model, scenes),
                     **where_attention_peaks(A, model, scenes),
                     "train_seconds": info["train_seconds"], "train_cpu_seconds": info["train_cpu_seconds"],
                     "epochs": len(info["losses"]), "final_loss": info["losses"][-1]})
    pairs = A.make_translation_pairs(N_TEST, seed=TEST_SEED)
    for name, overrides in translators:
        model, info = A.train_translator(verbose=False, **overrides)
        rows.append({"model": name, "overrides": overrides,
                     "alignment_accuracy": A.alignment_accuracy(model, pairs),
                     "translation_accuracy_exact": A.translation_accuracy(model, pairs),
                     "train_seconds": info["train_seconds"], "train_cpu_seconds": info["train_cpu_seconds"],
                     "epochs": len(info["losses"]), "final_loss": info["losses"][-1]})

    result = {"benchmark": "attention", "n_test": N_TEST, "test_seed": TEST_SEED,
              "captioner_config": A.CAPTIONER_DEFAULTS, "translator_config": A.TRANSLATOR_DEFAULTS,
              "goals": {"pointing_accuracy": 0.90, "alignment_accuracy": 0.95},
              "object_word_chance": (1 / len(COLOURS) + 1 / len(SHAPES)) / 2,   # one colour, one shape per object
              "pointing_chance": A.pointing_chance(scenes, A.train_captioner(verbose=False)[0].encoder.stride),
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "torch_threads_in_training": 1, "torch": torch.__version__,
                          "load_average_at_end": os.getloadavg()},
              "note": "train_seconds is wall-clock time and grows with the machine's load; "
                      "train_cpu_seconds (one thread) is what an idle machine needs",
              "rows": rows}
    atomic_write_bytes(RESULTS, (json.dumps(result, indent=2) + "\n").encode())

    print(f"{'model':68s} {'pointing':>9s} {'caption':>8s} {'obj.words':>9s} {'align':>7s} {'transl':>7s} "
          f"{'wall s':>7s} {'cpu s':>6s}")
    fmt = lambda r, k: f"{r[k]:.3f}" if k in r else "-"
    for r in rows:
        print(f"{r['model']:68s} {fmt(r, 'pointing_accuracy'):>9s} {fmt(r, 'caption_accuracy_exact'):>8s} "
              f"{fmt(r, 'object_word_accuracy'):>9s} "
              f"{fmt(r, 'alignment_accuracy'):>7s} {fmt(r, 'translation_accuracy_exact'):>7s} "
              f"{r['train_seconds']:7.1f} {r['train_cpu_seconds']:6.1f}")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
