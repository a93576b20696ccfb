"""Writes Tests/Fixtures/probe/lda_reference.json: a small labelled problem and what scikit-learn's
LinearDiscriminantAnalysis(solver="lsqr", shrinkage=0.1) learns on it, the reference for featx's
`--recipe lda` (Sources/Probe/LinearDiscriminant.swift).

scikit-learn's model, which featx computes: the pooled within-class covariance
S = (1/n) * sum over rows of (x - mean of its class)(x - mean of its class)^T, shrunk to
(1 - a) S + a * trace(S) / D * I; coef = S^-1 means^T; intercept = -1/2 diag(means coef^T) + log(priors),
priors = class frequencies. featx estimates S on a seeded subsample of rows; with as many rows as the
train part (as here) it is every row.

Rows are class means plus correlated noise (a random mixing matrix), float32, 4 classes of unequal size.

Run: .cache/venv/bin/python tools/make_lda_fixture.py   (numpy and scikit-learn)
"""

import json
import os

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "probe", "lda_reference.json")


def main() -> None:
    rng = np.random.RandomState(7)
    d, classes = 6, 4
    counts = [50, 80, 40, 70]
    means = rng.standard_normal((classes, d)) * 1.5
    mixing = rng.standard_normal((d, d)) * 0.7
    rows, labels = [], []
    for c, n in enumerate(counts):
        rows.append(means[c] + rng.standard_normal((n, d)) @ mixing)
        labels += [c] * n
    order = rng.permutation(sum(counts))
    x = np.concatenate(rows)[order].astype(np.float32)
    y = np.array(labels)[order]
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=0.1).fit(x.astype(np.float64), y)
    with open(OUT, "w") as f:
        json.dump({
            "shrinkage": 0.1, "dimension": d, "classes": classes,
            "features": [float(v) for v in x.ravel()], "labels": [int(v) for v in y],
            # featx's layout: weights [D, C] row-major.
            "weights": [float(v) for v in lda.coef_.T.ravel()], "bias": [float(v) for v in lda.intercept_],
            "predictions": [int(v) for v in lda.predict(x.astype(np.float64))],
        }, f)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
