"""Attention as explanation, measured: pointing accuracy, alignment accuracy, caption accuracy, time.

Trains every model from scratch in a fresh cache folder (so the training time is real), then
measures on held-out data:

* show-attend-tell on two-object scenes: pointing accuracy (share of colour/shape words whose
  attention maximum lies in that object's box; goal >= 0.90) and caption accuracy (greedy);
* seq2seq on the synthetic language pair: alignment accuracy (argmax attention on a truly aligned
  source word; goal >= 0.95) and exact translation accuracy.

Each is run in the course's default design and one variant, as evidence for the notebook's
discussion of when attention is an explanation. Writes benchmarks/results/attention.json.

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


def main():
    os.environ["COURSE_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-attention-")
    from course_utils import attention as A
    from course_utils.cache import atomic_write_bytes
    from course_utils.scenes import make_scenes

    rows = []
    cfg = A.CAPTIONER_DEFAULTS
    scenes = make_scenes(N_TEST, cfg["size"], cfg["n_objects"], seed=TEST_SEED)
    for name, overrides in [("show-attend-tell (default: context also in the GRU state)", {}),
                            ("show-attend-tell, state sees only words", {"context_in_state": False})]:
        model, info = A.train_captioner(verbose=False, **overrides)
        point, caps = A.pointing_accuracy(model, scenes), A.caption_accuracy(model, scenes)
        rows.append({"model": name, "overrides": overrides, "pointing_accuracy": point["all"],
                     "pointing_colour_words": point["colour"], "pointing_shape_words": point["shape"],
                     "caption_accuracy_exact": caps["exact"], "caption_word_accuracy": caps["words"],
                     "train_seconds": info["train_seconds"], "train_cpu_seconds": info["train_cpu_seconds"],
                     "epochs": len(info["losses"]), "final_loss": info["losses"][-1]})
    pairs = A.make_translation_pairs(N_TEST, seed=TEST_SEED)
    for name, overrides in [("seq2seq (default: keys = embedding + bi-GRU state)", {}),
                            ("seq2seq, keys = bi-GRU state only", {"keys": "gru"})]:
        model, info = A.train_translator(verbose=False, **overrides)
        rows.append({"model": name, "overrides": overrides,
                     "alignment_accuracy": A.alignment_accuracy(model, pairs),
                     "translation_accuracy_exact": A.translation_accuracy(model, pairs),
                     "train_seconds": info["train_seconds"], "train_cpu_seconds": info["train_cpu_seconds"],
                     "epochs": len(info["losses"]), "final_loss": info["losses"][-1]})

    result = {"benchmark": "attention", "n_test": N_TEST, "test_seed": TEST_SEED,
              "captioner_config": A.CAPTIONER_DEFAULTS, "translator_config": A.TRANSLATOR_DEFAULTS,
              "goals": {"pointing_accuracy": 0.90, "alignment_accuracy": 0.95},
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "torch_threads_in_training": 1, "torch": torch.__version__,
                          "load_average_at_end": os.getloadavg()},
              "note": "train_seconds is wall-clock time and grows with the machine's load; "
                      "train_cpu_seconds (one thread) is what an idle machine needs",
              "rows": rows}
    atomic_write_bytes(RESULTS, (json.dumps(result, indent=2) + "\n").encode())

    print(f"{'model':58s} {'pointing':>9s} {'caption':>8s} {'align':>7s} {'transl':>7s} {'wall s':>7s} {'cpu s':>6s}")
    fmt = lambda r, k: f"{r[k]:.3f}" if k in r else "-"
    for r in rows:
        print(f"{r['model']:58s} {fmt(r, 'pointing_accuracy'):>9s} {fmt(r, 'caption_accuracy_exact'):>8s} "
              f"{fmt(r, 'alignment_accuracy'):>7s} {fmt(r, 'translation_accuracy_exact'):>7s} "
              f"{r['train_seconds']:7.1f} {r['train_cpu_seconds']:6.1f}")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
