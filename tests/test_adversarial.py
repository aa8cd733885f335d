"""FGSM and PGD (lecture 12), cross-checked against foolbox's FGSM and LinfPGD, and their input checks."""
import foolbox as fb  # a dependency (pyproject.toml): the cross-check runs, never skips
import pytest
import torch
from torch import nn

from course_utils import adversarial as adv


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(8 * 6 * 6, 5)).eval()


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(1)
    return torch.rand(32, 3, 16, 16, generator=g), torch.randint(0, 5, (32,), generator=g)


def foolbox_model(model):
    return fb.PyTorchModel(model, bounds=(0, 1), device="cpu")


@pytest.mark.parametrize("eps", [0.01, 0.05, 0.2])
def test_fgsm_equals_foolbox(batch, eps):
    model = small_net()
    x, y = batch
    ours = adv.fgsm(model, x, y, eps)
    _, theirs, success = fb.attacks.FGSM()(foolbox_model(model), x, y, epsilons=eps)
    assert torch.allclose(ours, theirs, atol=1e-6)
    assert adv.success_rate(model, ours, y) == pytest.approx(float(success.float().mean()))
    assert float((ours - x).abs().max()) <= eps + 1e-6 and 0 <= float(ours.min()) and float(ours.max()) <= 1


@pytest.mark.parametrize("targeted", [False, True])
@pytest.mark.parametrize("eps,steps", [(0.02, 5), (0.1, 10)])
def test_pgd_without_random_start_equals_foolbox(batch, eps, steps, targeted):
    model = small_net()
    x, y = batch
    labels = (y + 1) % 5 if targeted else y
    ours = adv.pgd(model, x, labels, eps, steps=steps, random_start=False, targeted=targeted)
    criterion = fb.criteria.TargetedMisclassification(labels) if targeted else labels
    _, theirs, success = fb.attacks.LinfPGD(steps=steps, random_start=False)(foolbox_model(model), x, criterion,
                                                                              epsilons=eps)
    assert torch.allclose(ours, theirs, atol=1e-6)
    assert adv.success_rate(model, ours, labels, targeted) == pytest.approx(float(success.float().mean()))


def test_pgd_with_random_start_has_foolboxs_success_rate(batch):
    # Both draw their own random start, so the images differ; the success rates must not.
    model = small_net()
    x, y = batch
    x, y = x.repeat(4, 1, 1, 1), y.repeat(4)
    eps, steps = 0.03, 10
    ours = adv.success_rate(model, adv.pgd(model, x, y, eps, steps=steps, seed=0), y)
    torch.manual_seed(0)
    _, _, success = fb.attacks.LinfPGD(steps=steps)(foolbox_model(model), x, y, epsilons=eps)
    assert abs(ours - float(success.float().mean())) <= 0.1, (ours, float(success.float().mean()))


def test_pgd_stays_in_the_box_and_beats_fgsm(batch):
    model = small_net()
    x, y = batch
    eps = 0.03
    out = adv.pgd(model, x, y, eps, steps=10, alpha=2.5 * eps / 10)
    assert float((out - x).abs().max()) <= eps + 1e-6 and 0 <= float(out.min()) and float(out.max()) <= 1
    assert adv.success_rate(model, out, y) >= adv.success_rate(model, adv.fgsm(model, x, y, eps), y)


def test_targeted_fgsm_moves_towards_the_target(batch):
    model = small_net()
    x, y = batch
    target = (y + 2) % 5
    with torch.no_grad():
        before = model(x).log_softmax(1).gather(1, target[:, None])
        after = model(adv.fgsm(model, x, target, 0.05, targeted=True)).log_softmax(1).gather(1, target[:, None])
    assert (after > before).float().mean() > 0.9


def test_fgsm_sweep_matches_fgsm_at_each_eps(batch):
    model = small_net()
    x, y = batch
    eps_list = [0.0, 0.01, 0.05]
    assert adv.fgsm_sweep(model, x, y, eps_list) == [adv.success_rate(model, adv.fgsm(model, x, y, e), y)
                                                     for e in eps_list]


def test_random_sign_noise_has_the_budget():
    x = torch.full((2, 3, 4, 4), 0.5)
    noisy = adv.random_sign_noise(x, 0.1, seed=0)
    assert torch.allclose((noisy - x).abs(), torch.full_like(x, 0.1), atol=1e-6)
    assert ((noisy - x) > 0).float().mean().item() == pytest.approx(0.5, abs=0.25)


def test_bad_input_is_rejected(batch):
    model = small_net()
    x, y = batch
    with pytest.raises(ValueError, match=r"eps must be in \[0, inf\]"):
        adv.fgsm(model, x, y, -0.1)
    with pytest.raises(ValueError, match=r"eps must be in \[0, inf\]"):
        adv.pgd(model, x, y, -1e-3)
    with pytest.raises(ValueError, match=r"steps must be in \[1, inf\]"):
        adv.pgd(model, x, y, 0.1, steps=0)
    with pytest.raises(ValueError, match=r"images must be RGB in \[0, 1\]"):
        adv.fgsm(model, x * 2, y, 0.1)
    with pytest.raises(ValueError, match=r"images must be RGB in \[0, 1\]"):
        adv.random_sign_noise(x - 1, 0.1)
    with pytest.raises(ValueError, match="one class per image"):
        adv.fgsm(model, x, y[:3], 0.1)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        adv.fgsm(lambda t: t, x, y, 0.1)
    with pytest.raises(ValueError, match="alpha"):
        adv.pgd(model, x, y, 0.1, alpha=-1.0)
