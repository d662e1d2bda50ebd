"""PIL's side of `cargo bench --bench load`'s folder case: the same folder, the same work.

    python3 benches/load_pil.py DIR [WIDTH HEIGHT]

Walks DIR as `deepcluster::data::folder` does (recursive; files ending .png/.jpg/.jpeg in
any case; hidden files and folders skipped; directory links not followed; sorted by path
components), then for each image: `Image.open`, `convert("L")`, resize so that it covers
WIDTH x HEIGHT (default 28 x 28) with `Image.BOX` (area) when shrinking and
`Image.BILINEAR` when growing, centre crop (torchvision's Resize + CenterCrop geometry),
and write it as float32 / 255 into a preallocated (N, HEIGHT * WIDTH) numpy matrix. One
process, one thread, as a torchvision DataLoader worker does.

Prints one line: "PIL: <N> images in <T> s = <R> images/s" (the median of 3 warm runs,
the walk included, as in the Rust loader).

Versions used: Python 3.11.7, Pillow 13.0.0, numpy 2.4.6.
"""

import os
import sys
import time

import numpy as np
from PIL import Image

EXTENSIONS = (".png", ".jpg", ".jpeg")


def find_images(root):
    found = []
    for here, dirs, files in os.walk(root):  # os.walk does not follow directory links
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            if not f.startswith(".") and f.lower().endswith(EXTENSIONS):
                found.append(os.path.relpath(os.path.join(here, f), root).split(os.sep))
    found.sort(key=lambda parts: [p.encode("utf-8", "surrogateescape") for p in parts])
    return [os.path.join(root, *parts) for parts in found]


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


def load(paths, w, h):
    out = np.empty((len(paths), h * w), dtype=np.float32)
    for i, p in enumerate(paths):
        with Image.open(p) as img:
            small = resize_crop(img.convert("L"), w, h)
            out[i] = np.asarray(small, dtype=np.float32).reshape(-1) / 255.0
    return out


def main():
    root = sys.argv[1]
    w, h = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (28, 28)
    paths = find_images(root)
    load(paths, w, h)  # warm the page cache
    times = []
    for _ in range(3):
        start = time.perf_counter()
        load(find_images(root), w, h)
        times.append(time.perf_counter() - start)
    t = sorted(times)[1]
    print(f"PIL: {len(paths)} images in {t:.3f} s = {len(paths) / t:.0f} images/s")


if __name__ == "__main__":
    main()
