"""Lecture 12 benchmark: the regulariser ladder, lucent's render_vis on the same units, and the attacks next to foolbox.

    python benchmarks/featurevis.py          # writes benchmarks/results/featurevis.json, prints tables

Optimises in a fresh temporary cache (cold times). Bigger images and more steps than the notebook's
cold run. lucent (torch-lucent 0.1.8, with kornia 0.4.1 and decorator) is optional: without it the
ladder is compared with CS231n's recipe (L2 1e-3, blur every 10 steps, jitter) instead.
"""
from __future__ import annotations

import os
import tempfile
import time

os.environ.setdefault("COURSE_CACHE_DIR", tempfile.mkdtemp(prefix="featurevis-bench-"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from _common import print_table, write_results  # noqa: E402
from course_utils import adversarial as adv  # noqa: E402
from course_utils import data  # noqa: E402
from course_utils import featurevis as fv  # noqa: E402
from course_utils.train import pick_device  # noqa: E402

SIZE, STEPS = 128, 96
LAYER, CHANNEL, CLASS = "blocks.7", 43, 251
EPS = [e / 255 for e in (0.05, 0.1, 0.2, 0.5, 1, 4)]


def lucent_images(model, objective: str, size: int, steps: int, seed: int = 0):
    """lucent's standard recipe: Fourier + decorrelated colour, its standard transforms, Adam lr 0.05."""
    from lucent.optvis import param, render
    torch.manual_seed(seed)
    np.random.seed(seed)
    images = render.render_vis(model, objective, param_f=lambda: param.image(size), thresholds=(steps,),
                               preprocess=False, progress=False, show_image=False, fixed_image_size=size)
    return torch.tensor(images[-1]).permute(0, 3, 1, 2).float()


def timed(f):
    start = time.perf_counter()
    out = f()
    return out, time.perf_counter() - start


def main():
    torch.set_num_threads(1)
    device = pick_device()
    model = data.imagenet_classifier(verbose=False).to(device)
    photos = data.photos("all", verbose=False)
    pool, pool_photo = fv.crop_pool(photos.images, SIZE, per_photo=12, seed=0)
    units = {"blocks.7 channel 43": fv.Unit(model, LAYER, CHANNEL), "dalmatian logit": fv.Unit(model, None, CLASS)}
    targets = {"blocks.7 channel 43": (LAYER, CHANNEL), "dalmatian logit": (None, CLASS)}
    results = {"settings": {"size": SIZE, "steps": STEPS, "pool_crops": len(pool), "device": str(device)},
               "natural_slope_photos_224": float(fv.spectrum_slope(photos.images).median()),
               "natural_slope_pool": float(fv.spectrum_slope(pool).median()),
               "white_noise_slope": float(fv.spectrum_slope(torch.rand(8, 3, SIZE, SIZE)).median()),
               "ladder": {}, "reference": {}}
    rows = []
    for name, unit in units.items():
        acts = fv.activations(unit, pool)
        best = float(acts.max())
        top9 = fv.top_crops(acts, pool_photo, 9)
        entry = {"best_crop_activation": best,
                 "top9_crops_robustness": float(fv.robustness(unit, pool[top9], n=16).mean()), "rungs": {}}
        for rung in range(1, 6):
            out, seconds = timed(lambda: fv.visualise(model, *targets[name], step=rung, size=SIZE, steps=STEPS,
                                                      verbose=False))
            img = out["images"]
            r = {"activation_ratio": float(fv.activation_ratio(unit, img, best)),
                 "robustness": float(fv.robustness(unit, img, n=16)), "spectrum_slope": float(fv.spectrum_slope(img)),
                 "seconds_per_step": seconds / STEPS}
            entry["rungs"][fv.LADDER[rung - 1]] = r
            rows.append({"unit": name, "rung": fv.LADDER_TITLES[fv.LADDER[rung - 1]], **{k: f"{v:.3g}" for k, v in r.items()}})
        # The cross-check: lucent's render_vis on the same unit, same size and steps; else CS231n's recipe.
        try:
            lucent_objective = f"1_blocks_7:{CHANNEL}" if targets[name][0] else f"labels:{CLASS}"
            img, seconds = timed(lambda: lucent_images(model, lucent_objective, SIZE, STEPS))
            ref_name = "lucent 0.1.8 render_vis (fft, decorrelate, standard transforms, Adam 0.05)"
        except ImportError:
            recipe = fv.Recipe(l2=1e-3, transforms=True, blur_every=10, blur_sigma=0.5)
            out, seconds = timed(lambda: fv.visualise(model, *targets[name], step=recipe, size=SIZE, steps=STEPS,
                                                      verbose=False))
            img, ref_name = out["images"], "CS231n recipe (L2 1e-3, blur every 10 steps, jitter)"
        img = img.clamp(0, 1)
        r = {"activation_ratio": float(fv.activation_ratio(unit, img, best)),
             "robustness": float(fv.robustness(unit, img, n=16)), "spectrum_slope": float(fv.spectrum_slope(img)),
             "seconds_per_step": seconds / STEPS}
        results["reference"][name] = {"method": ref_name, **r}
        rows.append({"unit": name, "rung": ref_name.split(" (")[0], **{k: f"{v:.3g}" for k, v in r.items()}})
        results["ladder"][name] = entry
    print_table(rows, ["unit", "rung", "activation_ratio", "robustness", "spectrum_slope", "seconds_per_step"])

    # Attacks: success against eps, ours next to foolbox's, on the correctly classified ImageNet photos.
    import foolbox as fb
    fmodel = fb.PyTorchModel(model, bounds=(0, 1), device=device)
    x, y = photos.images[:20], photos.labels[:20]
    correct = adv.predictions(model, x) == y
    x, y = x[correct].to(device), y[correct].to(device)
    attack = {"n_photos": int(correct.sum()), "eps_255": [e * 255 for e in EPS], "fgsm": [], "fgsm_foolbox": [],
              "noise": []}
    for eps in EPS:
        attack["fgsm"].append(adv.success_rate(model, adv.fgsm(model, x, y, eps), y.cpu()))
        attack["fgsm_foolbox"].append(float(fb.attacks.FGSM()(fmodel, x, y, epsilons=eps)[2].float().mean()))
        attack["noise"].append(adv.success_rate(model, adv.random_sign_noise(x, eps), y.cpu()))
    n_pgd, steps = 6, 10
    xp, yp = x[:n_pgd], y[:n_pgd]
    target = torch.full_like(yp, 9)
    attack.update({"pgd_photos": n_pgd, "pgd_steps": steps, "pgd_eps_255": [0.05, 0.1, 0.2, 1.0],
                   "pgd": [], "pgd_foolbox": [], "pgd_targeted": [], "pgd_targeted_foolbox": [], "max_abs_diff": 0.0})
    ours_t, theirs_t = [], []
    for eps in [e / 255 for e in attack["pgd_eps_255"]]:
        ours, t1 = timed(lambda: adv.pgd(model, xp, yp, eps, steps=steps, random_start=False))
        _, theirs, ok = fb.attacks.LinfPGD(steps=steps, random_start=False)(fmodel, xp, yp, epsilons=eps)
        start = time.perf_counter()
        fb.attacks.LinfPGD(steps=steps, random_start=False)(fmodel, xp, yp, epsilons=eps)
        t2 = time.perf_counter() - start
        ours_t.append(t1 / steps), theirs_t.append(t2 / steps)
        attack["pgd"].append(adv.success_rate(model, ours, yp.cpu()))
        attack["pgd_foolbox"].append(float(ok.float().mean()))
        attack["max_abs_diff"] = max(attack["max_abs_diff"], float((ours - theirs).abs().max()))
        ours_tg = adv.pgd(model, xp, target, eps, steps=steps, random_start=False, targeted=True)
        _, theirs_tg, ok_tg = fb.attacks.LinfPGD(steps=steps, random_start=False)(
            fmodel, xp, fb.criteria.TargetedMisclassification(target), epsilons=eps)
        attack["pgd_targeted"].append(adv.success_rate(model, ours_tg, target.cpu(), targeted=True))
        attack["pgd_targeted_foolbox"].append(float(ok_tg.float().mean()))
        attack["max_abs_diff"] = max(attack["max_abs_diff"], float((ours_tg - theirs_tg).abs().max()))
    attack["pgd_seconds_per_step"] = float(np.median(ours_t))
    attack["pgd_foolbox_seconds_per_step"] = float(np.median(theirs_t))
    attack["pgd_time_ratio_ours_over_foolbox"] = float(np.median(np.array(ours_t) / np.array(theirs_t)))
    results["attacks"] = attack
    print_table([{"eps/255": f"{e:g}", "FGSM": f"{a:.2f}", "foolbox FGSM": f"{b:.2f}", "noise": f"{c:.2f}"}
                 for e, a, b, c in zip(attack["eps_255"], attack["fgsm"], attack["fgsm_foolbox"], attack["noise"])],
                ["eps/255", "FGSM", "foolbox FGSM", "noise"])
    print(f"PGD {steps} steps on {n_pgd} photos: ours {attack['pgd']} foolbox {attack['pgd_foolbox']}; targeted ours "
          f"{attack['pgd_targeted']} foolbox {attack['pgd_targeted_foolbox']}; max |diff| {attack['max_abs_diff']:.2g}; "
          f"time per step ratio ours/foolbox {attack['pgd_time_ratio_ours_over_foolbox']:.2f}")
    write_results("featurevis", results)


if __name__ == "__main__":
    main()
