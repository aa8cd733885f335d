"""Plausible wrong answers to lecture 12's exercises; the visible and the hidden tests must reject each."""

MUTANTS = {
    "q1_ascent_step": [
        ("descends instead of ascending (sign error)", '''def my_ascent_step(x, grad, lr):
    norm = grad.abs().flatten(1).mean(1).clamp(min=1e-12).view(-1, 1, 1, 1)
    return (x - lr * grad / norm).clamp(0, 1)
'''),
        ("normalises by the whole batch's gradient instead of each image's own", '''def my_ascent_step(x, grad, lr):
    return (x + lr * grad / grad.abs().mean().clamp(min=1e-12)).clamp(0, 1)
'''),
        ("does not normalise the gradient at all", '''def my_ascent_step(x, grad, lr):
    return (x + lr * grad).clamp(0, 1)
'''),
        ("forgets to clamp to [0, 1]", '''def my_ascent_step(x, grad, lr):
    norm = grad.abs().flatten(1).mean(1).clamp(min=1e-12).view(-1, 1, 1, 1)
    return x + lr * grad / norm
'''),
        ("normalises by the largest gradient instead of the mean", '''def my_ascent_step(x, grad, lr):
    norm = grad.abs().flatten(1).max(1).values.clamp(min=1e-12).view(-1, 1, 1, 1)
    return (x + lr * grad / norm).clamp(0, 1)
'''),
    ],
    "q2_jitter": [
        ("swaps the axes: dx moves rows, dy moves columns", '''def my_jitter(images, dx, dy):
    return torch.roll(images, shifts=(dx, dy), dims=(-2, -1))
'''),
        ("shifts the wrong way (left and up)", '''def my_jitter(images, dx, dy):
    return torch.roll(images, shifts=(-dy, -dx), dims=(-2, -1))
'''),
        ("pads with zeros instead of wrapping around", '''def my_jitter(images, dx, dy):
    out = torch.zeros_like(images)
    h, w = images.shape[-2:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = images[..., ys, xs]
    return out
'''),
        ("rolls the batch and channel dimensions instead of the pixels", '''def my_jitter(images, dx, dy):
    return torch.roll(images, shifts=(dy, dx), dims=(0, 1))
'''),
    ],
    "q3_fourier_inverse": [
        ("multiplies by the scale instead of dividing", '''def my_spectrum_from_image(image, scale):
    return torch.fft.rfft2(image, norm="ortho") * scale
'''),
        ("uses the default FFT normalisation instead of the orthonormal one", '''def my_spectrum_from_image(image, scale):
    return torch.fft.rfft2(image) / scale
'''),
        ("keeps only the real part of the spectrum", '''def my_spectrum_from_image(image, scale):
    return torch.fft.rfft2(image, norm="ortho").real / scale
'''),
        ("forgets the scale altogether", '''def my_spectrum_from_image(image, scale):
    return torch.fft.rfft2(image, norm="ortho")
'''),
    ],
    "q4_fgsm": [
        ("steps against the gradient (targeted sign for an untargeted attack)", '''def my_fgsm(model, x, y, eps):
    xg = x.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(xg), y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, xg)
    return (x - eps * grad.sign()).clamp(0, 1).detach()
'''),
        ("uses the raw gradient instead of its sign", '''def my_fgsm(model, x, y, eps):
    xg = x.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(xg), y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, xg)
    return (x + eps * grad).clamp(0, 1).detach()
'''),
        ("forgets to clamp to [0, 1]", '''def my_fgsm(model, x, y, eps):
    xg = x.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(xg), y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, xg)
    return (x + eps * grad.sign()).detach()
'''),
        ("takes half a step (eps / 2)", '''def my_fgsm(model, x, y, eps):
    xg = x.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(xg), y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, xg)
    return (x + 0.5 * eps * grad.sign()).clamp(0, 1).detach()
'''),
    ],
}
