"""Benchmark: the deep model's SHAP values, shap.GradientExplainer against skipify's batched expected gradients.

    $ .venv/bin/python bench/explain.py                      # the served version of the warehouse (after `make demo`)
    $ SKIPIFY_HOME=/path/to/home .venv/bin/python bench/explain.py --rows 300

Both on the same rows of the version's features (``--rows`` explained against ``--background`` training
rows, ``--nsamples`` draws each, the same seed): seconds of each, their ratio and the largest difference
of their values (the same draws: float rounding only). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=300)
    ap.add_argument("--background", type=int, default=200)
    ap.add_argument("--nsamples", type=int, default=100)
    args = ap.parse_args()

    import shap
    import torch

    from skipify.config import load_config
    from skipify.data import load_rows
    from skipify.explain import expected_gradients
    from skipify.models.deep import Inputs, FlatDeep
    from skipify.versions import load_version

    cfg = load_config()
    torch.set_num_threads(cfg.duckdb_threads)
    row, models = load_version(cfg=cfg)
    deep = models["deep"]
    rows = load_rows(cfg, sequences=True)
    data, bg = (Inputs(rows.sample(n, seed=s), deep.prep, deep.text, deep.config) for n, s in ((args.rows, 1), (args.background, 2)))
    flat = FlatDeep(deep, bg)
    x, x_bg = flat.inputs(data), flat.inputs(bg)

    t0 = time.perf_counter()
    theirs = np.asarray(shap.GradientExplainer(flat, x_bg).shap_values(x, nsamples=args.nsamples, rseed=0)).reshape(x.shape)
    t1 = time.perf_counter()
    ours = expected_gradients(flat, x, x_bg, nsamples=args.nsamples, seed=0)
    t2 = time.perf_counter()
    print(json.dumps({"version": row["version"], "rows": args.rows, "inputs": x.shape[1], "nsamples": args.nsamples,
                      "shap_gradient_explainer_s": round(t1 - t0, 2), "expected_gradients_s": round(t2 - t1, 2),
                      "ratio": round((t1 - t0) / (t2 - t1), 1), "max_abs_difference": float(np.abs(theirs - ours).max())}))


if __name__ == "__main__":
    main()
