"""The paper preset's pretraining in PyTorch, as the reference DEC-keras runs it, on our split.

    python3 benches/reference_pretrain.py [--threads 2] [--seed 1] [--epochs 50] [--unlabelled]

(needs torch, numpy and scikit-learn; reads MNIST's IDX files from ../shared/data/mnist or
$MNIST_IDX). A cross-check of the crate, not a benchmark: it trains the same autoencoder with
the same recipe (784-500-500-2000-10, ReLU, linear code and output, weights uniform in
+-sqrt(1/fan_in) and zero biases, MSE averaged over pixels and images, SGD lr 1 momentum 0.9,
batches of 256 reshuffled every epoch, the last one partial) on the same images: the first
34,300 labelled ones, plus the 21,000 unlabelled ones with --unlabelled. It prints the loss
of each epoch and, every few epochs, the NMI of K-Means on the 14,700 validation images'
codes, to put beside `pretrain_log.csv` from `deepcluster data/mnist --preset paper`.
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

FIT, LABELLED = 34_300, 49_000  # the article's 70/30 split of the 49,000 labelled images
DIMS = [784, 500, 500, 2000, 10]
SCORED_EPOCHS = {10, 25, 50, 75, 100, 150, 200, 250, 300}


def idx(path, offset):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load(folder):
    """All 70,000 images (IDX order: training file, then t10k) in [0, 1], and their labels."""
    images = [idx(os.path.join(folder, f"{s}-images-idx3-ubyte.gz"), 16) for s in ("train", "t10k")]
    labels = [idx(os.path.join(folder, f"{s}-labels-idx1-ubyte.gz"), 8) for s in ("train", "t10k")]
    x = np.concatenate(images).reshape(-1, 784).astype(np.float32) / 255.0
    return x, np.concatenate(labels)


def dense(fan_in, fan_out):
    """Keras' VarianceScaling(1/3, fan_in, uniform): U(-sqrt(1/fan_in), sqrt(1/fan_in))."""
    layer = torch.nn.Linear(fan_in, fan_out)
    limit = (1.0 / fan_in) ** 0.5
    torch.nn.init.uniform_(layer.weight, -limit, limit)
    torch.nn.init.zeros_(layer.bias)
    return layer


def stack(dims):
    """Dense layers along `dims`, ReLU between them, none after the last."""
    layers = []
    for i in range(len(dims) - 1):
        layers.append(dense(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--unlabelled", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    here = os.path.dirname(os.path.abspath(__file__))
    x, y = load(os.environ.get("MNIST_IDX", os.path.join(here, "../../shared/data/mnist")))
    fit = x[:FIT] if not a.unlabelled else np.concatenate([x[:FIT], x[LABELLED:]])
    x_val, y_val = x[FIT:LABELLED], y[FIT:LABELLED]
    fit = torch.tensor(fit)  # (N_fit, 784)
    print(f"fit {tuple(fit.shape)}, validation {x_val.shape}", flush=True)

    encoder, decoder = stack(DIMS), stack(DIMS[::-1])
    params = list(encoder.parameters()) + list(decoder.parameters())
    sgd = torch.optim.SGD(params, lr=1.0, momentum=0.9)
    started = time.time()
    for epoch in range(1, a.epochs + 1):
        order = torch.randperm(len(fit))
        total = 0.0
        for start in range(0, len(fit), 256):
            batch = fit[order[start:start + 256]]  # (B, 784)
            sgd.zero_grad()
            loss = torch.nn.functional.mse_loss(decoder(encoder(batch)), batch)
            loss.backward()
            sgd.step()
            total += loss.item() * len(batch)
        line = f"epoch {epoch} loss {total / len(fit):.6f}"
        if epoch in SCORED_EPOCHS or epoch == a.epochs:
            with torch.no_grad():
                codes_fit = encoder(fit).numpy()  # (N_fit, 10)
                codes_val = encoder(torch.tensor(x_val)).numpy()  # (N_val, 10)
            km = KMeans(10, n_init=5, random_state=0).fit(codes_fit)
            line += f" validation NMI {normalized_mutual_info_score(y_val, km.predict(codes_val)):.4f}"
        print(f"{line} ({time.time() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
