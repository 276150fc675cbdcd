"""Measure ``cw-l0-native`` at its defaults on a suite's undefended network (issue 10).

    python scripts/cw_l0_measure.py SUITE [--cache-dir DIR] [--samples N] [--batch-size B]
                                    [--set KEY=VALUE ...] [--param KEY=VALUE ...]

The network is the suite's first row's undefended model, trained (or loaded from the model
cache, the same key as ``bench run SUITE --cache-dir DIR``) on the suite's training split. The
attack runs untargeted on the first ``N`` correctly classified samples of the suite's seeded
evaluation subset (the one ``bench run`` uses) and prints success rate, mean and median L0 of
the successes (pixels changed, the harness's count), wall time per sample and mean rounds,
beside Carlini & Wagner's MNIST figure (100 %, mean L0 8.5). ``--param`` overrides an attack
parameter (for example ``--param iterations=300``).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import yaml
from bench_builtin.attacks.native import CwL0Native

from bench.cache import ModelCache
from bench.checks import norm_of
from bench.interfaces import DataSplit
from bench.pluginmanager import load_plugins
from bench.progress import RunProgress
from bench.run.faults import instantiate
from bench.run.plan import plan_suite
from bench.run.work import Workspace
from bench.suite import load_suite
from bench.training import HostTrainer, predict_logits


def undefended(suite_path: str, overrides: list[str], cache_dir: str | None
               ) -> tuple[Any, DataSplit]:
    """The suite's undefended network (trained or loaded from the cache) and evaluation subset."""
    plugins = load_plugins([])
    suite, _ = load_suite(suite_path, overrides)
    plan = plan_suite(suite, suite_path, plugins)
    cache = ModelCache(cache_dir)
    progress = RunProgress(True)
    train, evaluation = Workspace(plan, plugins, cache, progress).data()
    first = plan.cells[0]
    trainer = HostTrainer(instantiate(first.model),
                          plugins.plugin_version("model", first.model.name), train, cache,
                          plan.suite.seed, progress)
    return trainer.undefended(), evaluation


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("suite")
    ap.add_argument("--cache-dir")
    ap.add_argument("--samples", type=int, default=120)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--param", action="append", default=[], help="attack parameter KEY=VALUE")
    args = ap.parse_args()

    model, evaluation = undefended(args.suite, args.overrides, args.cache_dir)
    pred = predict_logits(model, evaluation.x).argmax(axis=1)
    correct = np.flatnonzero(pred == evaluation.y)[: args.samples]
    x, y = evaluation.x[correct], evaluation.y[correct]

    extra = {k: yaml.safe_load(v) for k, v in (p.split("=", 1) for p in args.param)}
    attack = CwL0Native(CwL0Native.Params(**extra))
    start = time.perf_counter()
    out = attack.generate(model, x, y, None, evaluation.clip_values, evaluation.num_classes)
    seconds = time.perf_counter() - start
    adv_pred = predict_logits(model, out.x_adv).argmax(axis=1)
    ok = adv_pred != y
    l0 = norm_of(out.x_adv - x, 0)[ok]
    report = {
        "suite": args.suite, "clean_accuracy": float((pred == evaluation.y).mean()),
        "params": attack.params.model_dump(exclude={"target"}), "samples": len(x),
        "success_rate": float(ok.mean()), "flags_agree": bool((ok == out.success).all()),
        "l0_mean": float(l0.mean()) if l0.size else None,
        "l0_median": float(np.median(l0)) if l0.size else None,
        "seconds_per_sample": seconds / max(len(x), 1), "info": out.info,
        "unbroken": correct[~ok].tolist(),
    }
    print(json.dumps(report, default=str))
    print(f"cw-l0-native: {100 * ok.mean():.1f} % of {len(x)} correctly classified, "
          f"L0 mean {report['l0_mean']}, median {report['l0_median']}, "
          f"{report['seconds_per_sample']:.2f} s/sample  (C&W 2017, MNIST: 100 %, L0 8.5)")


if __name__ == "__main__":
    main()
