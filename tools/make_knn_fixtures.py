"""Writes Tests/Fixtures/knn/reference.json: feature stores' rows and, per k, what DINOv2's weighted k-NN
(dinov2/eval/knn.py) predicts for their test rows, computed with NumPy.

The algorithm, as knn.py runs it: L2-normalise train and test rows (x / max(|x|, 1e-12), torch's
F.normalize, so a zero row stays zero and its cosine similarity with anything is 0); similarity = dot
product; the max(k) most similar train rows, most similar first; weights softmax(sim / T) over those;
class scores for k = the summed weights of the first k neighbours of each class; predicted = argmax.

featx's tie rules, which this reference implements and the Swift tests hold featx to:
- neighbours with equal similarity are ordered by train row (the earlier store row first), so a train row
  that ties with the k-th neighbour is left out when it comes later in the store;
- class scores are summed in float64 in neighbour order; classes with equal scores are ranked by class
  index (the lower first), for top-1 and top-5 alike.

Two cases: "gaussian" (class means plus noise: no ties) and "ties" (rows of +-1 from a pool of a few
patterns, so many rows are exact duplicates and similarities are exact multiples of 1/16), each with one
all-zero train row and one all-zero test row.

Run: .cache/venv/bin/python tools/make_knn_fixtures.py
"""

import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "knn", "reference.json")
KS = [1, 3, 10, 20]
T = 0.07


def normalise(x):
    norms = np.sqrt((x.astype(np.float64) ** 2).sum(1, keepdims=True))
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def knn(train, train_labels, test, classes, check_gaps):
    a, b = normalise(train), normalise(test)
    sims = (b.astype(np.float64) @ a.astype(np.float64).T)
    max_k = max(KS)
    order = np.array([np.lexsort((np.arange(len(a)), -row))[:max_k] for row in sims])
    top = np.take_along_axis(sims, order, 1)
    if check_gaps:
        # featx computes similarities in float32: neighbour order is only comparable when no two candidates
        # for the first max_k places are closer than float32 could tell apart.
        ranked = -np.sort(-sims[np.abs(b).sum(1) > 0], 1)[:, : max_k + 1]
        gap = np.diff(-ranked, axis=1).min()
        assert gap > 1e-5, f"similarities {gap} apart: choose another seed"
    out = {"neighbors": order.tolist(), "similarities": top.tolist(), "k": {}}
    for k in KS:
        predicted, top5, share = [], [], []
        for q in range(len(b)):
            w = np.exp((top[q, :k] - top[q, 0]) / T)
            score = np.zeros(classes, np.float64)
            for i in range(k):
                score[train_labels[order[q, i]]] += w[i]
            ranked = sorted(range(classes), key=lambda c: (-score[c], c))
            predicted.append(ranked[0])
            top5.append(ranked[:5])
            share.append(score[ranked[0]] / w.sum())
        out["k"][str(k)] = {"predicted": predicted, "top5": top5, "probability": share}
    return out


def case(name, rows, labels, split, classes):
    train = np.flatnonzero(split == 0)
    test = np.flatnonzero(split == 1)
    result = knn(rows[train], labels[train], rows[test], classes, check_gaps=name == "gaussian")
    # Neighbour indices as store rows.
    result["neighbors"] = [[int(train[i]) for i in row] for row in result["neighbors"]]
    return {
        "name": name,
        "classes": classes,
        "dimension": rows.shape[1],
        "features": [float(v) for v in rows.reshape(-1)],
        "labels": labels.tolist(),
        "split": split.tolist(),
        "test_rows": test.tolist(),
        **result,
    }


def gaussian():
    rng = np.random.RandomState(8)
    classes, d, n = 7, 24, 259
    means = rng.randn(classes, d).astype(np.float32) * 1.5
    labels = rng.randint(0, classes, n)
    rows = (means[labels] + rng.randn(n, d).astype(np.float32) * 3.0).astype(np.float32)
    split = (rng.rand(n) < 0.2).astype(np.int64)
    rows[5] = 0
    split[5] = 0
    rows[9] = 0
    split[9] = 1
    return case("gaussian", rows, labels, split, classes)


def ties():
    rng = np.random.RandomState(11)
    classes, d, n = 5, 16, 110
    patterns = np.where(rng.rand(9, d) < 0.5, -1.0, 1.0).astype(np.float32)
    pick = rng.randint(0, len(patterns), n)
    rows = patterns[pick] * rng.choice([1.0, 2.0, 0.5], n)[:, None].astype(np.float32)
    labels = (pick + rng.randint(0, 2, n)) % classes
    split = (rng.rand(n) < 0.27).astype(np.int64)
    rows[3] = 0
    split[3] = 0
    rows[4] = 0
    split[4] = 1
    return case("ties", rows.astype(np.float32), labels, split, classes)


def main():
    document = {"ks": KS, "temperature": T, "cases": [gaussian(), ties()]}
    with open(OUT, "w") as f:
        json.dump(document, f, separators=(",", ":"))
        f.write("\n")
    print(OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
