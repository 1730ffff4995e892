"""The blend kind against the best single kind, over seeds: every kind of KINDS trained per seed on the same time
splits as `skipify train` (the configured defaults, no tuning), then each kind's validation and test ROC AUC, and
the blend minus the single kind best on validation on the test rows with a paired bootstrap 95% interval (and the deep
model minus LightGBM, the same way), and the
blend's validation ROC AUC cross-fitted (each half of the validation days scored by weights fitted on the other):
its own validation figure is in sample.

    $ SKIPIFY_HOME=/path/to/home .venv/bin/python bench/blend.py --seeds 0 1 2     # features built (make demo)

Prints one JSON line per seed, then the mean and standard deviation of each figure over the seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    from skipify.config import load_config
    from skipify.data import load_rows, time_splits, window_start
    from skipify.features import default_as_of
    from skipify.metrics import paired_bootstrap_auc_diff, roc_auc
    from skipify.models.base import Resources
    from skipify.models.blend import _fit_weights, _logit
    from skipify.models.kinds import KINDS

    base = load_config()
    as_of = default_as_of(base)
    splits = time_splits(load_rows(base, sequences=True, since=window_start(base, as_of), until=as_of), base)
    y_valid, y_test = splits.valid["label"].to_numpy(), splits.test["label"].to_numpy()
    per_seed = []
    for seed in args.seeds:
        cfg = dataclasses.replace(base, seed=seed)
        resources = Resources(cfg)
        out: dict = {"seed": seed, "home": str(cfg.home), "rows": {"train": splits.train.height, "valid": splits.valid.height,
                                                                    "test": splits.test.height}, "seconds": {}}
        test = {}
        for name, kind in KINDS.items():
            t0 = time.perf_counter()
            model = kind.fit(splits.train, splits.valid, kind.configure(None, cfg, args.device, None), resources)
            resources.trained[name] = model
            out["seconds"][name] = round(time.perf_counter() - t0, 1)
            test[name] = model.predict(splits.test)
            out[f"{name}_valid_roc_auc"] = roc_auc(y_valid, model.predict(splits.valid))
            out[f"{name}_roc_auc"] = roc_auc(y_test, test[name])
        singles = [k for k in KINDS if k != "blend"]
        # the blend's validation figure is in sample (its weights were fitted there): cross-fitted, each half of the
        # validation days scored by weights fitted on the other half, says how much that flatters it
        blend = resources.trained["blend"]
        logits = np.column_stack([_logit(m.predict(splits.valid)) for m in blend.components.values()])
        days = splits.valid["day"].to_numpy()
        first = days < np.median(days)
        crossed = np.empty(len(y_valid))
        for fit_on in (first, ~first):
            w, b = _fit_weights(logits[fit_on], y_valid[fit_on].astype(np.float64), blend.config)
            crossed[~fit_on] = logits[~fit_on] @ w + b
        out["blend_valid_crossfit_roc_auc"] = roc_auc(y_valid, crossed)
        best = max(singles, key=lambda k: out[f"{k}_valid_roc_auc"])
        out["best_single_on_valid"] = best
        out["blend_minus_best_single_ci"] = paired_bootstrap_auc_diff(y_test, test["blend"], test[best])
        out["deep_minus_lightgbm_ci"] = paired_bootstrap_auc_diff(y_test, test["deep"], test["lightgbm"])
        out["blend_weights"] = resources.trained["blend"].fitted
        out["served_by_gate"] = max(KINDS, key=lambda k: (out[f"{k}_valid_roc_auc"], -list(KINDS).index(k)))
        print(json.dumps(out, default=float), flush=True)
        per_seed.append(out)
    keys = [k for k in per_seed[0] if k.endswith("roc_auc")]  # blend_valid_crossfit_roc_auc included
    summary = {k: {"mean": float(np.mean([s[k] for s in per_seed])), "sd": float(np.std([s[k] for s in per_seed], ddof=1))
                   if len(per_seed) > 1 else None} for k in keys}
    diffs = [s["blend_minus_best_single_ci"]["diff"] for s in per_seed]
    summary["blend_minus_best_single"] = {"mean": float(np.mean(diffs)), "sd": float(np.std(diffs, ddof=1)) if len(diffs) > 1 else None,
                                          "each": [(s["blend_minus_best_single_ci"]["lo"], s["blend_minus_best_single_ci"]["hi"])
                                                   for s in per_seed]}
    deep = [s["deep_minus_lightgbm_ci"]["diff"] for s in per_seed]
    summary["deep_minus_lightgbm"] = {"mean": float(np.mean(deep)), "sd": float(np.std(deep, ddof=1)) if len(deep) > 1 else None,
                                      "each": [(s["deep_minus_lightgbm_ci"]["lo"], s["deep_minus_lightgbm_ci"]["hi"]) for s in per_seed]}
    summary["served_by_gate"] = [s["served_by_gate"] for s in per_seed]
    print(json.dumps({"seeds": args.seeds, "summary": summary}, default=float), flush=True)


if __name__ == "__main__":
    main()
