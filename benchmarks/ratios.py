"""Print, from one run, the ratios that matter for the native attack engine.

    python benchmarks/ratios.py [--n-art 5] [--n-art-linf 2] [--n-art-l0 2] [--no-memory]

Native attacks run on 100 EMNIST-shaped inputs (batch 100); ART runs on ``--n-art`` of them
(it takes seconds per image) with the same batch size as its input, and the comparison is per
image. Matched settings are in ``benchmarks/common.py``.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import BIM, L0, L2, LINF, art_classifier, floor_fn, native_cw, setup  # noqa: E402


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def outcome(model, x: np.ndarray, y: np.ndarray, adv: np.ndarray, name: str) -> str:
    """Success rate and mean distortion (in the attack's own norm) of the successful ones."""
    ok = model.predict(adv, verbose=0).argmax(axis=1) != y
    d = (adv - x).reshape(len(x), -1)
    norm = {"CW L2": np.linalg.norm(d, axis=1), "CW L-inf": np.abs(d).max(axis=1),
            "CW L0": (np.abs(d) > 1e-6).sum(axis=1).astype(float)}[name]
    mean = f"{norm[ok].mean():.3g}" if ok.any() else "-"
    return f"success {ok.mean():.0%}, mean distortion {mean}"


def memory_child(n: int, batch: int) -> None:
    from bench_builtin.native.cw_l2 import cw_l2
    from common import load_images, reference_cnn

    x, y = load_images(n)
    model = reference_cnn()
    cw_l2(model, x[:batch], y[:batch], 47, targeted=False, iterations=20, binary_search_steps=1,
          batch_size=batch)  # warm-up and tracing
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cw_l2(model, x, y, 47, targeted=False, iterations=20, binary_search_steps=1,
          batch_size=batch)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{base / 1024:.0f} {peak / 1024:.0f}")


def memory_table() -> None:
    print("\nPeak RSS (MiB) of native CW L2, 20 iterations, after a warm-up batch:")
    for n, batch in ((200, 50), (2000, 50), (200, 200), (2000, 200)):
        out = subprocess.run([sys.executable, __file__, "--memory-child", str(n), str(batch)],
                             capture_output=True, text=True, check=True).stdout.split()
        print(f"  samples {n:5d}  batch {batch:4d}:  warm-up {out[-2]} MiB, peak {out[-1]} MiB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-art", type=int, default=5)
    ap.add_argument("--n-art-linf", type=int, default=2)
    ap.add_argument("--n-art-l0", type=int, default=2)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--memory-child", nargs=2, type=int)
    a = ap.parse_args()
    if a.memory_child:
        memory_child(*a.memory_child)
        return
    from art.attacks.evasion import (
        BasicIterativeMethod,
        CarliniL0Method,
        CarliniL2Method,
        CarliniLInfMethod,
    )
    from bench_builtin.native.cw_l2 import cw_l2
    from bench_builtin.native.ifgsm import ifgsm

    model, x, y = setup()
    n = len(x)
    oh = np.eye(47, dtype=np.float32)[y]
    f_floor = floor_fn(model, x, y)
    it = 100
    f_ifgsm = lambda: ifgsm(model, x, y, 47, targeted=False, eps=0.01, iterations=it)  # noqa: E731
    f_l2 = lambda: cw_l2(model, x, y, 47, targeted=False, iterations=it,  # noqa: E731
                         binary_search_steps=1, abort_early=False)
    f_ifgsm(), f_l2()
    # interleaved rounds, medians: on a shared machine a load spike then hits all three alike
    rounds: dict[str, list[float]] = {"floor": [], "ifgsm": [], "l2": []}
    for _ in range(7):
        rounds["floor"].append(float(np.median([timed(f_floor) for _ in range(it // 10)])))
        rounds["ifgsm"].append(timed(f_ifgsm) / it)
        rounds["l2"].append(timed(f_l2) / it)
    floor, per_ifgsm, per_l2 = (float(np.median(v)) for v in rounds.values())
    print(f"floor: one compiled forward+backward, batch {n}: {floor * 1e3:.1f} ms "
          f"({floor / n * 1e3:.3f} ms/image; medians of 7 interleaved rounds)")
    print(f"native I-FGSM per iteration / floor: {per_ifgsm / floor:.2f}  "
          f"({per_ifgsm * 1e3:.1f} ms)")
    print(f"native CW L2 per iteration / floor:  {per_l2 / floor:.2f}  ({per_l2 * 1e3:.1f} ms)")

    bim = BasicIterativeMethod(art_classifier(model), eps=BIM["eps"],
                               eps_step=BIM["eps"] / BIM["max_iter"], max_iter=BIM["max_iter"],
                               batch_size=n, verbose=False)
    f_nat = lambda: ifgsm(model, x, y, 47, targeted=False, eps=BIM["eps"],  # noqa: E731
                          iterations=BIM["max_iter"])
    t_nat, t_art = timed(f_nat, 3), timed(lambda: bim.generate(x, oh), 3)
    print(f"\nBIM (ART) / native I-FGSM, {n} images, {BIM}: {t_art / t_nat:.1f}x "
          f"(ART {t_art:.2f} s, native {t_nat:.2f} s)")

    rows = [("CW L2", "l2", L2, CarliniL2Method, a.n_art),
            ("CW L-inf", "linf", LINF, CarliniLInfMethod, a.n_art_linf),
            ("CW L0", "l0", L0, CarliniL0Method, a.n_art_l0)]
    for name, norm, hp, cls, n_art in rows:
        native_cw(norm, model, x, y)  # tracing
        start = time.perf_counter()
        x_nat = native_cw(norm, model, x, y)
        t_n = (time.perf_counter() - start) / n
        art = cls(art_classifier(model), batch_size=n_art, verbose=False, **hp)
        start = time.perf_counter()
        x_art = art.generate(x[:n_art], oh[:n_art])
        t_a = (time.perf_counter() - start) / n_art
        print(f"{name}: ART / native = {t_a / t_n:.0f}x  (ART {t_a:.2f} s/image on {n_art} "
              f"images, native {t_n * 1e3:.1f} ms/image on {n}; {hp})", flush=True)
        for who, adv, m in (("ART", x_art, n_art), ("native", x_nat, n)):
            print(f"    {who:6s} on its {m} images: {outcome(model, x[:m], y[:m], adv, name)}")
    if not a.no_memory:
        memory_table()


if __name__ == "__main__":
    main()
