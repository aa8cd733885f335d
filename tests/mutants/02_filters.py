"""Plausible wrong answers to lecture 02's exercises (see tests/exercise_harness.py)."""

MUTANTS = {
    "q1_gabor": [
        ("swaps x and y (meshgrid in 'ij' order)", '''def my_gabor(size, theta, wavelength, sigma, phase):
    r = np.arange(size) - (size - 1) / 2
    x, y = np.meshgrid(r, r, indexing="ij")
    xr = x * np.cos(theta) + y * np.sin(theta)
    yr = -x * np.sin(theta) + y * np.cos(theta)
    return np.exp(-(xr**2 + yr**2) / (2 * sigma**2)) * np.cos(2 * np.pi * xr / wavelength + phase)
'''),
        ("rotates the wrong way (x' = x cos - y sin)", '''def my_gabor(size, theta, wavelength, sigma, phase):
    r = np.arange(size) - (size - 1) / 2
    x, y = np.meshgrid(r, r, indexing="xy")
    xr = x * np.cos(theta) - y * np.sin(theta)
    yr = x * np.sin(theta) + y * np.cos(theta)
    return np.exp(-(xr**2 + yr**2) / (2 * sigma**2)) * np.cos(2 * np.pi * xr / wavelength + phase)
'''),
        ("forgets the 2 in the Gaussian's 2 sigma^2", '''def my_gabor(size, theta, wavelength, sigma, phase):
    r = np.arange(size) - (size - 1) / 2
    x, y = np.meshgrid(r, r, indexing="xy")
    xr = x * np.cos(theta) + y * np.sin(theta)
    yr = -x * np.sin(theta) + y * np.cos(theta)
    return np.exp(-(xr**2 + yr**2) / sigma**2) * np.cos(2 * np.pi * xr / wavelength + phase)
'''),
        ("forgets the 2 pi in the grating (wavelength read as 1/frequency in radians)", '''def my_gabor(size, theta, wavelength, sigma, phase):
    r = np.arange(size) - (size - 1) / 2
    x, y = np.meshgrid(r, r, indexing="xy")
    xr = x * np.cos(theta) + y * np.sin(theta)
    yr = -x * np.sin(theta) + y * np.cos(theta)
    return np.exp(-(xr**2 + yr**2) / (2 * sigma**2)) * np.cos(xr / wavelength + phase)
'''),
        ("centres the grid on size/2, half a pixel off for even sizes", '''def my_gabor(size, theta, wavelength, sigma, phase):
    r = np.arange(size) - size // 2
    x, y = np.meshgrid(r, r, indexing="xy")
    xr = x * np.cos(theta) + y * np.sin(theta)
    yr = -x * np.sin(theta) + y * np.cos(theta)
    return np.exp(-(xr**2 + yr**2) / (2 * sigma**2)) * np.cos(2 * np.pi * xr / wavelength + phase)
'''),
    ],
    "q2_variance_explained": [
        ("forgets to subtract each filter's mean in the denominator", '''def variance_explained(filters, fitted):
    f = filters.reshape(len(filters), -1)
    g = fitted.reshape(len(fitted), -1)
    ss_tot = (f ** 2).sum(axis=1)
    return np.where(ss_tot > 0, 1 - ((f - g) ** 2).sum(axis=1) / np.where(ss_tot > 0, ss_tot, 1), 0.0)
'''),
        ("subtracts the mean over all filters, not each filter's own", '''def variance_explained(filters, fitted):
    f = filters.reshape(len(filters), -1)
    g = fitted.reshape(len(fitted), -1)
    ss_tot = ((f - f.mean()) ** 2).sum(axis=1)
    return np.where(ss_tot > 0, 1 - ((f - g) ** 2).sum(axis=1) / np.where(ss_tot > 0, ss_tot, 1), 0.0)
'''),
        ("returns the unexplained fraction SS_res / SS_tot", '''def variance_explained(filters, fitted):
    f = filters.reshape(len(filters), -1)
    g = fitted.reshape(len(fitted), -1)
    ss_tot = ((f - f.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    return np.where(ss_tot > 0, ((f - g) ** 2).sum(axis=1) / np.where(ss_tot > 0, ss_tot, 1), 0.0)
'''),
        ("divides by zero on a constant filter", '''def variance_explained(filters, fitted):
    f = filters.reshape(len(filters), -1)
    g = fitted.reshape(len(fitted), -1)
    ss_tot = ((f - f.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 - ((f - g) ** 2).sum(axis=1) / ss_tot
'''),
        ("returns one R^2 over all filters pooled", '''def variance_explained(filters, fitted):
    f, g = filters.ravel(), fitted.ravel()
    return np.array(1 - ((f - g) ** 2).sum() / ((f - f.mean()) ** 2).sum())
'''),
    ],
    "q3_receptive_field": [
        ("adds k instead of k - 1 per layer", '''def rf_size(layers):
    r, j = 1, 1
    for k, s in layers:
        r, j = r + k * j, j * s
    return r
'''),
        ("multiplies the jump by the stride before adding the kernel", '''def rf_size(layers):
    r, j = 1, 1
    for k, s in layers:
        j = j * s
        r = r + (k - 1) * j
    return r
'''),
        ("ignores the strides", '''def rf_size(layers):
    r = 1
    for k, s in layers:
        r = r + (k - 1)
    return r
'''),
        ("multiplies the kernel sizes", '''def rf_size(layers):
    r = 1
    for k, s in layers:
        r = r * k
    return r
'''),
    ],
    "q4_top9": [
        ("no suppression: only the cap of 3 per photo", '''def top9(maps, min_distance):
    n, h, w = maps.shape
    kept = []
    for flat in maps.flatten().argsort(descending=True).tolist():
        p, r, c = flat // (h * w), (flat % (h * w)) // w, flat % w
        if sum(p2 == p for p2, _, _ in kept) < 3:
            kept.append((p, r, c))
            if len(kept) == 9:
                break
    return kept
'''),
        ("no cap per photo: suppression only", '''def top9(maps, min_distance):
    n, h, w = maps.shape
    kept = []
    for flat in maps.flatten().argsort(descending=True).tolist():
        p, r, c = flat // (h * w), (flat % (h * w)) // w, flat % w
        if all(max(abs(r - r2), abs(c - c2)) >= min_distance for p2, r2, c2 in kept if p2 == p):
            kept.append((p, r, c))
            if len(kept) == 9:
                break
    return kept
'''),
        ("suppresses across photos (compares positions of different photos)", '''def top9(maps, min_distance):
    n, h, w = maps.shape
    kept = []
    for flat in maps.flatten().argsort(descending=True).tolist():
        p, r, c = flat // (h * w), (flat % (h * w)) // w, flat % w
        if sum(p2 == p for p2, _, _ in kept) < 3 and all(max(abs(r - r2), abs(c - c2)) >= min_distance
                                                         for _, r2, c2 in kept):
            kept.append((p, r, c))
            if len(kept) == 9:
                break
    return kept
'''),
        ("strict distance: drops a position exactly min_distance away", '''def top9(maps, min_distance):
    n, h, w = maps.shape
    kept = []
    for flat in maps.flatten().argsort(descending=True).tolist():
        p, r, c = flat // (h * w), (flat % (h * w)) // w, flat % w
        same = [(r2, c2) for p2, r2, c2 in kept if p2 == p]
        if len(same) < 3 and all(max(abs(r - r2), abs(c - c2)) > min_distance for r2, c2 in same):
            kept.append((p, r, c))
            if len(kept) == 9:
                break
    return kept
'''),
        ("swaps row and column (unravels the index with H where W belongs)", '''def top9(maps, min_distance):
    n, h, w = maps.shape
    kept = []
    for flat in maps.flatten().argsort(descending=True).tolist():
        p, c, r = flat // (h * w), (flat % (h * w)) // h, flat % h
        same = [(r2, c2) for p2, r2, c2 in kept if p2 == p]
        if len(same) < 3 and all(max(abs(r - r2), abs(c - c2)) >= min_distance for r2, c2 in same):
            kept.append((p, r, c))
            if len(kept) == 9:
                break
    return kept
'''),
        ("one position per photo (the old top-9 of photos)", '''def top9(maps, min_distance):
    vals, flat = maps.flatten(1).max(dim=1)
    order = vals.argsort(descending=True)[:9].tolist()
    w = maps.shape[2]
    return [(p, int(flat[p]) // w, int(flat[p]) % w) for p in order]
'''),
    ],
}
