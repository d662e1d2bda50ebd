#!/bin/sh
# Fills fuzz/corpus/<target>/ with small valid (and some broken) inputs from fixtures/, so
# each fuzzer starts from files the reader accepts. The corpus is not committed.
set -eu
cd "$(dirname "$0")/.."
c=fuzz/corpus
mkdir -p "$c/csv" "$c/png" "$c/idx" "$c/safetensors" "$c/jpeg"

# csv: every list file of the fixtures, broken ones included.
for f in fixtures/*/train.csv fixtures/*/test.csv fixtures/broken/*/train.csv; do
    cp "$f" "$c/csv/$(echo "$f" | tr / _)"
done

# png: a few MNIST digits, every colour type and bit depth, the truncated one.
cp fixtures/article/train/0.png fixtures/article/train/1.png "$c/png/"
for f in fixtures/png/test/*.png fixtures/broken/*/train/*.png; do
    cp "$f" "$c/png/$(echo "$f" | tr / _)"
done

# jpeg: every JPEG fixture (each sampling factor, restarts, odd sizes, orientations, and
# the refused kinds).
cp fixtures/jpeg/*.jpg "$c/jpeg/"

# idx: the label files (small), and the first 2 images of the image file with the count
# patched to 2, each raw and gzipped.
cp fixtures/idx/train-labels-idx1-ubyte "$c/idx/labels"
cp fixtures/idx-gz/train-labels-idx1-ubyte.gz "$c/idx/labels.gz"
python3 - "$c/idx" <<'PY'
import gzip, struct, sys
raw = open("fixtures/idx/train-images-idx3-ubyte", "rb").read()
two = raw[:4] + struct.pack(">I", 2) + raw[8:16] + raw[16:16 + 2 * 784]
open(sys.argv[1] + "/images2", "wb").write(two)
open(sys.argv[1] + "/images2.gz", "wb").write(gzip.compress(two))
PY

# safetensors: a 4-3-2 autoencoder and a DEC model on its 2-d codes, as the program
# writes them.
python3 - "$c/safetensors" <<'PY'
import json, struct, sys

def save(path, tensors, metadata):
    header, data = {"__metadata__": metadata}, b""
    for name, shape in sorted(tensors):
        n = 1
        for d in shape:
            n *= d
        values = b"".join(struct.pack("<f", 0.25 * (i % 7) - 0.5) for i in range(n))
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [len(data), len(data) + len(values)]}
        data += values
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + data)

layers = lambda prefix, dims: [
    t for l in range(len(dims) - 1)
    for t in [(f"{prefix}{l}.weight", [dims[l], dims[l + 1]]), (f"{prefix}{l}.bias", [dims[l + 1]])]]
save(sys.argv[1] + "/ae", layers("encoder.", [4, 3, 2]) + layers("decoder.", [2, 3, 4]),
     {"dims": "4,3,2", "code_activation": "linear", "output_activation": "sigmoid"})
save(sys.argv[1] + "/dec", layers("", [4, 3, 2]) + [("centres", [3, 2])],
     {"dims": "4,3,2", "code_activation": "linear", "alpha": "1"})
PY
ls "$c"/* | wc -l
