"""Pillow's side of `cargo bench --bench load`'s JPEG case (issue 18).

    python3 benches/jpeg_pil.py make DIR N     writes N photos of 1600x1200 (1.92 MP)
    python3 benches/jpeg_pil.py time DIR       times Pillow on them

`make`: each photo is a smooth colour field (three random low-frequency waves per
channel, drawn at 1/8 size and enlarged bicubically) with uniform pixel noise of +-10, so it compresses as a photo does (about 300-500 KB at quality
90, 4:2:0 chroma sampling, baseline Huffman), seeded by its index: the same files on every
machine with the same numpy and Pillow.

`time`: the median of 3 warm runs, one process, one thread, of
- "small": `Image.open`, `draft("L", (32, 32))` (libjpeg's DCT scaling: here 1/8),
  `convert("L")`, a BOX resize covering 32x32 and a centre crop, into a float32 matrix
  (what `data::load_folder` does with `--image-size 32x32`);
- "full": `Image.open` and `load()` at full scale in RGB.
Prints "PIL small: <N> images in <T> s = <R> images/s" and
"PIL full: <N> images, <MP> MP in <T> s = <R> MP/s".

Versions used: Python 3.11.7, Pillow 13.0.0 (libjpeg-turbo 3.2.0), numpy 2.4.6.
"""

import os
import sys
import time

import numpy as np
from PIL import Image

W, H = 1600, 1200


def make(root, n):
    os.makedirs(root, exist_ok=True)
    # The waves are drawn at 1/8 of the size and enlarged (bicubic): smooth either way,
    # and eight times cheaper to make.
    yy, xx = np.mgrid[0 : H // 8, 0 : W // 8].astype(np.float32) * 8
    for i in range(n):
        path = os.path.join(root, f"photo_{i:04d}.jpg")
        if os.path.exists(path):
            continue
        rng = np.random.default_rng(i)
        field = np.zeros((H // 8, W // 8, 3), dtype=np.float32)
        for c in range(3):
            for _ in range(3):
                fx, fy = rng.uniform(0.5, 4.0, 2) * 2 * np.pi / np.array([W, H])
                phase = rng.uniform(0, 2 * np.pi)
                field[..., c] += np.sin(fx * xx + fy * yy + phase)
        small = Image.fromarray(np.clip(128 + 40 * field, 0, 255).astype(np.uint8), "RGB")
        smooth = np.asarray(small.resize((W, H), Image.BICUBIC), dtype=np.int16)
        noise = rng.integers(-10, 11, (H, W, 3), dtype=np.int16)
        pixels = np.clip(smooth + noise, 0, 255).astype(np.uint8)
        tmp = path + ".tmp"
        Image.fromarray(pixels, "RGB").save(tmp, "JPEG", quality=90, subsampling=2)
        os.replace(tmp, path)


def paths_of(root):
    return sorted(
        os.path.join(root, f) for f in os.listdir(root) if f.lower().endswith(".jpg")
    )


def resize_crop(img, w, h):
    sw, sh = img.size
    if sw * h >= w * sh:
        rw, rh = max(h * sw // sh, w), h
    else:
        rw, rh = w, max(w * sh // sw, h)
    method = Image.BOX if rw < sw or rh < sh else Image.BILINEAR
    img = img.resize((rw, rh), method)
    left, top = round((rw - w) / 2), round((rh - h) / 2)
    return img.crop((left, top, left + w, top + h))


def small(paths):
    out = np.empty((len(paths), 32 * 32), dtype=np.float32)
    for i, p in enumerate(paths):
        with Image.open(p) as img:
            img.draft("L", (32, 32))
            img = resize_crop(img.convert("L"), 32, 32)
            out[i] = np.asarray(img, dtype=np.float32).reshape(-1) / 255.0
    return out


def full(paths):
    pixels = 0
    for p in paths:
        with Image.open(p) as img:
            img.load()
            pixels += img.size[0] * img.size[1]
    return pixels


def median_time(f, paths):
    f(paths)  # warm the page cache
    times = []
    for _ in range(3):
        start = time.perf_counter()
        f(paths)
        times.append(time.perf_counter() - start)
    return sorted(times)[1]


def main():
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
        return
    paths = paths_of(sys.argv[2])
    t = median_time(small, paths)
    print(f"PIL small: {len(paths)} images in {t:.3f} s = {len(paths) / t:.1f} images/s")
    mp = full(paths) / 1e6
    t = median_time(full, paths)
    print(f"PIL full: {len(paths)} images, {mp:.0f} MP in {t:.3f} s = {mp / t:.1f} MP/s")


if __name__ == "__main__":
    main()
