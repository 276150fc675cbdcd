"""A -p plugin declaring two metrics computed for every cell (bench_register_metrics)."""

import numpy as np

from bench import hookimpl
from bench.results.metrics import Metric


def _kept(inputs):
    """Fraction of samples whose adversarial prediction is the clean prediction."""
    same = inputs.adv_logits.argmax(axis=1) == inputs.clean_logits.argmax(axis=1)
    return float(same.mean()) if len(same) else None


def _margin(inputs):
    top = np.sort(inputs.adv_logits, axis=1)
    return float((top[:, -1] - top[:, -2]).mean())


@hookimpl
def bench_register_metrics():
    return [
        Metric("kept_rate", "adversarial prediction equals the clean one", direction="higher",
               format="percent", unit="%", compute=_kept),
        Metric("adv_margin", "mean gap between the two largest adversarial logits",
               compute=_margin),
    ]
