"""Native PGD beside ART's ProjectedGradientDescent and Foolbox 3's LinfPGD, from one run.

    python benchmarks/pgd_ratios.py [--n 100] [--eps 0.3] [--steps 40] [--rounds 5]

Same model (the reference CNN trained on scikit-learn's digits, the recipe of
``tests/builtin/native``: 12 epochs, 1500 training digits), the same ``--n`` test digits in one
batch, the same threat model and schedule: L-inf eps, ``--steps`` steps of 2.5 * eps / steps
(Madry et al.), one random start, untargeted cross-entropy. Timings are medians of ``--rounds``
interleaved rounds (a load spike on the shared machine then hits all three alike), after one
warm-up call each (tracing); success is the fraction of the correctly classified digits that
are misclassified afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "builtin" / "native"))
from native_helpers import RECIPE, digits_28, fit, reference_cnn  # noqa: E402

#: where tests/builtin/native/conftest.py caches the same network (pytest's cache directory)
CACHED = (ROOT / ".pytest_cache" / "d" / "bench_native_models"
          / f"plain-{hashlib.sha1(RECIPE.encode()).hexdigest()[:10]}.weights.h5")


def digits_model():
    """The tests' undefended digits CNN: loaded from their cache when there, else trained."""
    x, y = digits_28()
    model = reference_cnn(10, seed=0)
    if CACHED.exists():
        model.load_weights(CACHED)
    else:
        fit(model, x[:1500], np.eye(10, dtype=np.float32)[y[:1500]], 1.0)
    return model, x[1500:], y[1500:]


def runners(model, x: np.ndarray, y: np.ndarray, eps: float, steps: int):
    import foolbox
    import tensorflow as tf
    from art.attacks.evasion import ProjectedGradientDescent
    from bench_builtin.attacks.art import art_classifier
    from bench_builtin.native.pgd import pgd

    step = 2.5 * eps / steps
    n = len(x)
    art = ProjectedGradientDescent(art_classifier(model, 10, (28, 28, 1), (0.0, 1.0)),
                                   norm=np.inf, eps=eps, eps_step=step, max_iter=steps,
                                   num_random_init=1, batch_size=n, verbose=False)
    fb_model = foolbox.TensorFlowModel(model, bounds=(0.0, 1.0))
    fb_attack = foolbox.attacks.LinfPGD(abs_stepsize=step, steps=steps, random_start=True)
    xt, yt = tf.constant(x), tf.constant(y)
    one_hot = np.eye(10, dtype=np.float32)[y]
    return {
        "native": lambda: pgd(model, x, y, 10, targeted=False, eps=eps, steps=steps, alpha=step,
                              restarts=1, random_start=True, batch_size=n)[0],
        "ART": lambda: art.generate(x=x, y=one_hot),
        "Foolbox": lambda: fb_attack(fb_model, xt, yt, epsilons=eps)[1].numpy(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--eps", type=float, default=0.3)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    model, x_test, y_test = digits_model()
    x, y = x_test[: a.n], y_test[: a.n]
    correct = model.predict(x, verbose=0).argmax(axis=1) == y
    clean = float(correct.mean())
    run = runners(model, x, y, a.eps, a.steps)
    success, linf, times = {}, {}, {k: [] for k in run}
    for name, fn in run.items():  # warm-up (tracing) and the outcome
        adv = np.asarray(fn())
        fooled = model.predict(adv, verbose=0).argmax(axis=1) != y
        success[name] = float(fooled[correct].mean())
        linf[name] = float(np.abs(adv - x).max())
    for _ in range(a.rounds):
        for name, fn in run.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    med = {k: float(np.median(v)) for k, v in times.items()}
    print(f"PGD L-inf eps {a.eps}, {a.steps} steps of {2.5 * a.eps / a.steps:.4g}, 1 random "
          f"start, {a.n} test digits in one batch (clean accuracy {clean:.0%}); medians of "
          f"{a.rounds} interleaved rounds")
    print(f"  {'':8s} {'median s':>9s} {'ms/image':>9s} {'x native':>9s} {'success':>8s} "
          f"{'max Linf':>9s}")
    for name in run:
        print(f"  {name:8s} {med[name]:9.3f} {med[name] / a.n * 1e3:9.2f} "
              f"{med[name] / med['native']:9.1f} {success[name]:8.0%} {linf[name]:9.4f}")


if __name__ == "__main__":
    main()
