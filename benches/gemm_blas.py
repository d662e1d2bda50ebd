"""numpy's BLAS (OpenBLAS) on the cases of benches/gemm.rs, in the same line format.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benches/gemm_blas.py

(needs `pip install numpy threadpoolctl`; those two variables, where set, pick a slower kernel).

On a shared, busy machine two separate runs see different loads. `--paired N` measures each
case N times as a pair, `cargo bench --bench gemm -- <case>` then BLAS straight after, and
prints the median of each side and the median of the per-pair ratios (ours / BLAS).
"""
import re
import statistics
import subprocess
import sys
import time
import numpy as np
from threadpoolctl import threadpool_limits, threadpool_info

BATCH = 256
LAYERS = [(784, 500), (500, 500), (500, 2000), (2000, 10), (10, 2000), (2000, 500), (500, 500), (500, 784)]


def cases():
    forward, backward = [], []
    for i, o in LAYERS:
        for lst, case in ((forward, (BATCH, i, o, "N", "N")), (backward, (i, BATCH, o, "T", "N")),
                          (backward, (BATCH, o, i, "N", "T"))):
            if case not in lst:
                lst.append(case)
    backward += [(34300, 784, 10, "N", "T"), (34300, 784, 10, "N", "N")]
    return forward + backward


def measure(m, k, n, ta, tb, rng):
    a = rng.uniform(-1, 1, (k, m) if ta == "T" else (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, k) if tb == "T" else (k, n)).astype(np.float32)
    opa = a.T if ta == "T" else a
    opb = b.T if tb == "T" else b
    c = np.empty((m, n), np.float32)
    np.matmul(opa, opb, out=c)
    rates = []
    for _ in range(9):
        reps, t = 0, time.perf_counter()
        while time.perf_counter() - t < 0.025:
            np.matmul(opa, opb, out=c)
            reps += 1
        rates.append(2 * m * k * n * reps / (time.perf_counter() - t) / 1e9)
    return sorted(rates)[len(rates) // 2]


def ours(name):
    """GFLOP/s of benches/gemm.rs on the one case `name`, e.g. '256x784x500 NN threads=1'."""
    out = subprocess.run(["cargo", "bench", "-q", "--bench", "gemm", "--"] + name.split(),
                         capture_output=True, text=True, check=True).stdout
    found = re.search(re.escape(name) + r" ([\d.]+) GFLOP/s", out)
    return float(found.group(1))


print("#", [(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info()])
rng = np.random.default_rng(0)
pairs = int(sys.argv[sys.argv.index("--paired") + 1]) if "--paired" in sys.argv else 0
for threads in (1, 2):
    with threadpool_limits(threads):
        for m, k, n, ta, tb in cases():
            name = f"{m}x{k}x{n} {ta}{tb} threads={threads}"
            if not pairs:
                print(f"blas {name} {measure(m, k, n, ta, tb, rng):.1f} GFLOP/s")
                continue
            rust, blas = [], []
            for _ in range(pairs):
                rust.append(ours(name))
                blas.append(measure(m, k, n, ta, tb, rng))
            ratio = statistics.median(r / b for r, b in zip(rust, blas))
            print(f"pair {name} ours {statistics.median(rust):.1f} blas {statistics.median(blas):.1f}"
                  f" ratio {ratio:.2f}", flush=True)
