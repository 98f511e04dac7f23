#!/usr/bin/python3
"""numpy oracle for metrics/similarity.h.

Every measure is recomputed here from its formula in plain numpy (nothing is taken from
the C++ code) on seeded random data, and similarity_cli's printed values must agree to
1e-6. The formulas follow the header's wording, not its implementation: the debiased HSIC
uses the uncentred Gram matrices, biased CKA the centring matrix H, Procrustes an explicit
zero padding and a full SVD, the distances numpy broadcasting.

    similarity_oracle_test.py path/to/similarity_cli
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

TOL = 1e-6


def cka_biased(x, y):
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    k = h @ (x @ x.T) @ h
    l = h @ (y @ y.T) @ h
    return np.sum(k * l) / (np.linalg.norm(k) * np.linalg.norm(l))


def hsic_unbiased(k, l):
    n = k.shape[0]
    k = k.copy()
    l = l.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l, 0)
    one = np.ones(n)
    return (np.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2)) -
            2 / (n - 2) * (one @ k @ l @ one)) / (n * (n - 3))


def cka_debiased(x, y):
    k = x @ x.T
    l = y @ y.T
    return hsic_unbiased(k, l) / np.sqrt(hsic_unbiased(k, k) * hsic_unbiased(l, l))


def procrustes_angular(x, y):
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    x = x / np.linalg.norm(x)
    y = y / np.linalg.norm(y)
    width = max(x.shape[1], y.shape[1])
    x = np.pad(x, ((0, 0), (0, width - x.shape[1])))
    y = np.pad(y, ((0, 0), (0, width - y.shape[1])))
    nuclear = np.linalg.svd(x.T @ y, compute_uv=False).sum()
    return np.arccos(np.clip(nuclear, 0, 1))


def distances(x):
    return np.sqrt(((x[:, None, :] - x[None, :, :])**2).sum(axis=-1))


def upper(d):
    return d[np.triu_indices(d.shape[0], k=1)]


def average_ranks(v):
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    start = 0
    while start < len(v):
        end = start
        while end + 1 < len(v) and v[order[end + 1]] == v[order[start]]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def rsa_pearson(x, y):
    return np.corrcoef(upper(distances(x)), upper(distances(y)))[0, 1]


def rsa_spearman(x, y):
    return np.corrcoef(average_ranks(upper(distances(x))),
                       average_ranks(upper(distances(y))))[0, 1]


def neighbours(d, i, k):
    others = np.array([j for j in range(d.shape[0]) if j != i])
    # lexsort: last key first; ties in distance go to the smaller index.
    return set(others[np.lexsort((others, d[i, others]))][:k].tolist())


def mutual_knn(x, y, k):
    dx, dy = distances(x), distances(y)
    n = x.shape[0]
    return np.mean([len(neighbours(dx, i, k) & neighbours(dy, i, k)) / k for i in range(n)])


def oracle(x, y, k):
    return {
        "cka_debiased": cka_debiased(x, y),
        "cka_biased": cka_biased(x, y),
        "procrustes_angular": procrustes_angular(x, y),
        "rsa_pearson": rsa_pearson(x, y),
        "rsa_spearman": rsa_spearman(x, y),
        "mutual_knn": mutual_knn(x, y, k),
    }


def run_cli(cli, x, y, k, tmp):
    xp, yp = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
    np.save(xp, x)
    np.save(yp, y)
    return subprocess.run([cli, xp, yp, str(k)], capture_output=True, text=True)


def cases():
    rng = np.random.default_rng(20240611)
    # Related representations with offset features.
    x = rng.normal(size=(40, 7)) + 3.0
    y = x @ rng.normal(size=(7, 12)) + 0.7 * rng.normal(size=(40, 12)) - 1.5
    yield "related 40 x 7 / 40 x 12", x, y, 5
    # Wider than n (the QR reduction in procrustes_angular), independent.
    yield "independent 100 x 500 / 100 x 300", rng.normal(size=(100, 500)), rng.normal(
        size=(100, 300)), 10
    # Small integers: many tied distances (average ranks) and tied neighbours (index order).
    x = rng.integers(0, 3, size=(30, 3)).astype(np.float64)
    y = np.concatenate([x[:, :2], rng.integers(0, 3, size=(30, 1))], axis=1)
    yield "integer-valued 30 x 3 / 30 x 3 (ties)", x, y, 3
    # float32 input, read as float64 exactly.
    x = rng.normal(size=(25, 4)).astype(np.float32)
    y = (x @ rng.normal(size=(4, 4))).astype(np.float32)
    yield "float32 25 x 4 / 25 x 4", x, y, 4


def main():
    cli = sys.argv[1]
    failures = 0
    with tempfile.TemporaryDirectory(dir=os.environ.get("TEST_TMPDIR")) as tmp:
        for name, x, y, k in cases():
            result = run_cli(cli, x, y, k, tmp)
            if result.returncode != 0:
                print(f"FAIL {name}: similarity_cli exited {result.returncode}: {result.stderr}")
                failures += 1
                continue
            got = {}
            for line in result.stdout.splitlines():
                measure, value = line.split()
                got[measure] = float(value)
            expected = oracle(x.astype(np.float64), y.astype(np.float64), k)
            if sorted(got) != sorted(expected):
                print(f"FAIL {name}: measures {sorted(got)}, expected {sorted(expected)}")
                failures += 1
                continue
            print(f"{name} (k = {k}):")
            for measure, want in expected.items():
                diff = abs(got[measure] - want)
                ok = diff <= TOL
                failures += not ok
                print(f"  {'ok  ' if ok else 'FAIL'} {measure:20s} C++ {got[measure]: .12f}  "
                      f"numpy {want: .12f}  |diff| {diff:.1e}")

        # Errors reach the caller as a message and a non-zero exit.
        result = run_cli(cli, np.zeros((5, 2)) + np.arange(5)[:, None], np.ones((4, 2)), 2, tmp)
        want = "X is 5 x 2 and Y is 4 x 2"
        if result.returncode == 0 or want not in result.stderr:
            print(f"FAIL shape mismatch: exit {result.returncode}, stderr {result.stderr!r}")
            failures += 1
        else:
            print(f"ok   shape mismatch: {result.stderr.strip()}")

    print("PASS" if failures == 0 else f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
