"""Reference accuracies of scikit-learn on real featx features, for the probe's real-data test.

Extracts ../shared/datasets/flower_photos_small (200 photos, 5 classes) with featx's densenet121 on seeded
random weights (featx-random-v1, seed 0; the ImageNet preset; split 0.8, seed 2021), flattened (50176
values) and average-pooled (1024), then fits scikit-learn's LogisticRegression (lbfgs, multinomial) on the
standardised train rows for C in a grid and records the test accuracy of each and the best. The test
asserts that `featx probe` reaches at least sklearn's accuracy (within one test image).

    .cache/bench-venv/bin/python tools/make_probe_real_reference.py   # needs featx built: swift build -c release
"""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FEATX = os.path.join(ROOT, ".build", "release", "featx")
DATASET = os.path.join(ROOT, "..", "shared", "datasets", "flower_photos_small")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "probe", "flowers_sklearn.json")
GRID = [0.001, 0.01, 0.1, 1.0, 10.0]


def main() -> None:
    result = {"generator": "tools/make_probe_real_reference.py", "sklearn": sklearn.__version__, "dataset": "flower_photos_small",
              "extraction": "featx extract --arch densenet121 --weights random:0 (imagenet preset, split 0.8 seed 2021)",
              "fit": "StandardScaler on train rows, LogisticRegression(C, lbfgs, max_iter=10000)", "pools": {}}
    with tempfile.TemporaryDirectory() as work:
        for pool in ("flatten", "avg"):
            store = os.path.join(work, f"{pool}.h5")
            subprocess.run([FEATX, "extract", DATASET, "-o", store, "--arch", "densenet121", "--weights", "random:0",
                            "--pool", pool, "--quiet"], check=True, stderr=subprocess.DEVNULL)
            with h5py.File(store, "r") as f:
                x, y, split = f["features"][:], f["labels"][:], f["split"][:]
            train, test = split == 0, split == 1
            scaler = StandardScaler().fit(x[train])
            xs_train, xs_test = scaler.transform(x[train]), scaler.transform(x[test])
            accuracies = {}
            for c in GRID:
                model = LogisticRegression(C=c, max_iter=10000).fit(xs_train, y[train])
                accuracies[str(c)] = float((model.predict(xs_test) == y[test]).mean())
                print(pool, c, accuracies[str(c)], file=sys.stderr)
            result["pools"][pool] = {"train_rows": int(train.sum()), "test_rows": int(test.sum()),
                                     "test_accuracy_by_C": accuracies, "best_test_accuracy": max(accuracies.values()),
                                     "default_C_test_accuracy": accuracies["1.0"]}
    with open(OUT, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")
    print(json.dumps(result["pools"], indent=2))


if __name__ == "__main__":
    main()
