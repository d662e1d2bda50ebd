"""The reference for `cargo bench --bench n2d`: umap-learn + scikit-learn on the crate's codes.

    python3 n2d_umap_learn.py CODES_DIR [N_NEIGHBORS [N_INIT]]

CODES_DIR holds what the bench writes: fit.f32 (N_fit x 10) and val.f32 (N_val x 10), raw
little-endian f32, and val_labels.u8. As N2D and `--method n2d` do: UMAP to 10 dimensions,
min_dist 0, fitted on the fit codes, the validation codes placed by `transform`; then a
full-covariance GaussianMixture fitted on the embedding, with N_INIT restarts (default 4,
as `--method n2d`). The first UMAP call compiles
numba's kernels and is not timed; the second is. Prints `theirs: step S s` and the scores.
Needs numpy, scikit-learn, umap-learn (tested with umap-learn 0.5.12, scikit-learn 1.9.1).
"""
import sys, time, warnings
import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import normalized_mutual_info_score as nmi, adjusted_rand_score as ari
from sklearn.mixture import GaussianMixture
import umap

warnings.filterwarnings("ignore")
codes = sys.argv[1]
neighbors = int(sys.argv[2]) if len(sys.argv) > 2 else 10
n_init = int(sys.argv[3]) if len(sys.argv) > 3 else 4
fit = np.fromfile(f"{codes}/fit.f32", np.float32).reshape(-1, 10)
val = np.fromfile(f"{codes}/val.f32", np.float32).reshape(-1, 10)
y = np.fromfile(f"{codes}/val_labels.u8", np.uint8).astype(np.int64)


def acc(t, p):
    m = np.zeros((p.max() + 1, t.max() + 1), np.int64)
    np.add.at(m, (p, t), 1)
    r, c = linear_sum_assignment(-m)
    return m[r, c].sum() / len(t)


def step():
    t = [time.perf_counter()]
    u = umap.UMAP(n_components=10, n_neighbors=neighbors, min_dist=0.0, random_state=0)
    ef = u.fit_transform(fit)
    t.append(time.perf_counter())
    ev = u.transform(val)
    t.append(time.perf_counter())
    gmm = GaussianMixture(10, covariance_type="full", n_init=n_init, random_state=0).fit(ef)
    t.append(time.perf_counter())
    return gmm.predict(ev), [b - a for a, b in zip(t, t[1:])]


step()  # numba compiles on the first call
t0 = time.perf_counter()
p, (t_fit, t_transform, t_gmm) = step()
t = time.perf_counter() - t0
print(f"theirs: UMAP fit {t_fit:.2f} s, transform {t_transform:.2f} s, Gaussian mixture {t_gmm:.2f} s")
print(f"theirs: step {t:.2f} s wall (umap-learn {umap.__version__})")
print(f"theirs: umap-learn + mixture   validation NMI {nmi(y, p):.4f}  ACC {acc(y, p):.4f}  ARI {ari(y, p):.4f}")
