"""``check_defense``: a defense applied through the host's real trainer and model cache, as in a
run: cached networks are shared, parameters reach the cache key, the deployed model gives logits."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.cache import ModelCache
from bench.interfaces import DataSplit, Defense, DefenseTraits, Model
from bench.progress import RunProgress
from bench.testing.report import ContractReport, instance, label
from bench.training import HostTrainer, predict_logits

#: training images of the default data: what is checked is the plumbing, not the accuracy
DEFENSE_SAMPLES = 100


def check_defense(defense: type[Defense], params_a: dict[str, Any] | None = None,
                  params_b: dict[str, Any] | None = None, *, model: Model | None = None,
                  data: DataSplit | None = None, cache_dir: Path | str | None = None,
                  seed: int = 0) -> ContractReport:
    """Apply a defense the way a run does and check its contract; raise ``AssertionError``
    naming the first violated property, else return a :class:`ContractReport`.

    The defense class is instantiated with ``params_a`` and ``params_b`` (validated by its
    ``Params``). It is applied through the host's :class:`~bench.training.HostTrainer` with a
    :class:`~bench.cache.ModelCache` in ``cache_dir`` (default: a temporary directory, removed
    afterwards), training ``model`` (a model plugin instance; default: the kit's
    :class:`~bench.testing.TinyNet`, 1 epoch) on ``data`` (default: the first 100 of the
    kit's training digits). Properties:

    - **traits**: ``traits()`` returns a :class:`~bench.traits.DefenseTraits` whose ``sweep``,
      when set, names a parameter of the defense;
    - **deployed logits**: the deployed model maps a batch to finite ``(n, num_classes)``
      outputs that are not probabilities (rows in [0, 1] summing to 1);
    - **cache shared**: applying it again with ``params_a`` (new instances, new trainer, the
      same cache) trains nothing: every network comes from the cache, under the same keys;
    - **parameter in the key** (training defenses, when ``params_b`` differs): with
      ``params_b`` the deployed network has a new cache key and is trained, not loaded.
    """
    if model is None:
        from bench.testing.models import TinyNet

        model = TinyNet(TinyNet.Params(epochs=1))
    if data is None:
        from bench.testing.data import tiny_data

        train = tiny_data().train
        data = DataSplit(train.x[:DEFENSE_SAMPLES], train.y[:DEFENSE_SAMPLES],
                         train.num_classes, train.class_names, f"{train.name}[:100]",
                         train.clip_values)
    first: Defense = instance(defense, Defense, "check_defense", params_a)
    report = ContractReport(label(first, "defense"))
    traits = first.traits()
    if not isinstance(traits, DefenseTraits):
        report.fail("traits", f"traits() returned {type(traits).__qualname__}, not "
                    "bench.traits.DefenseTraits")
    if traits.sweep is not None and traits.sweep not in type(first.params).model_fields:
        report.fail("traits", f"traits().sweep is {traits.sweep!r}, not a parameter of the "
                    "defense")
    report.ok("traits")
    with tempfile.TemporaryDirectory(prefix="bench-check-defense-") as tmp:
        cache = ModelCache(cache_dir if cache_dir is not None else Path(tmp))

        def apply(plugin: Defense) -> tuple[Any, HostTrainer]:
            trainer = HostTrainer(model, model.version, data, cache, seed, RunProgress(True))
            return plugin.apply(trainer), trainer

        deployed, trainer_a = apply(first)
        _check_logits(deployed, data, report)
        again, trainer_a2 = apply(instance(defense, Defense, "check_defense", params_a))
        _check_cached(trainer_a, trainer_a2, report)
        report.measured["networks"] = len(trainer_a.records)
        if params_b is None or first.params == instance(
                defense, Defense, "check_defense", params_b).params:
            report.skip("parameter in the key", "params_b is not given or equals params_a")
        elif traits.kind != "training":
            report.skip("parameter in the key", f"kind {traits.kind!r}: its parameters need "
                        "not change how networks are trained")
        else:
            other, trainer_b = apply(instance(defense, Defense, "check_defense", params_b))
            key_a, key_b = _key(trainer_a, deployed), _key(trainer_b, other)
            if key_a == key_b:
                report.fail("parameter in the key", f"params {params_a} and {params_b} deploy "
                            f"the same cached network ({key_a[:12]}...): the changed parameter "
                            "does not reach Trainer.train (role, temperature or transform)")
            if all(r["cached"] for r in trainer_b.records):
                report.fail("parameter in the key", f"with params {params_b} every network "
                            "came from the cache: nothing was trained for the new parameters")
            report.ok("parameter in the key")
    return report


def _key(trainer: HostTrainer, deployed: Any) -> str:
    """The cache key of the deployed network, or of the last network trained for it (a
    wrapper deploys a model the trainer never saw)."""
    try:
        return trainer.key_of(deployed)
    except KeyError:
        return str(trainer.records[-1]["key"]) if trainer.records else ""


def _check_logits(deployed: Any, data: DataSplit, report: ContractReport) -> None:
    prop = "deployed logits"
    x = data.x[:16]
    try:
        out = predict_logits(deployed, x)
    except Exception as exc:
        report.fail(prop, f"the deployed model failed on a batch: {type(exc).__name__}: {exc}")
    if out.shape != (len(x), data.num_classes):
        report.fail(prop, f"outputs of shape {out.shape} for {len(x)} images, expected "
                    f"{(len(x), data.num_classes)}")
    if not np.isfinite(out).all():
        report.fail(prop, "some outputs are not finite")
    if out.min() >= 0 and out.max() <= 1 and np.allclose(out.sum(axis=1), 1.0, atol=1e-3):
        report.fail(prop, "outputs are probabilities (rows in [0, 1] summing to 1): deploy "
                    "the logits, attacks and flags read them")
    report.ok(prop)


def _check_cached(first: HostTrainer, second: HostTrainer, report: ContractReport) -> None:
    prop = "cache shared"
    if not first.records:
        report.skip(prop, "the defense asked the trainer for no network")
        return
    trained = [r for r in second.records if not r["cached"]]
    if trained:
        report.fail(prop, f"applied again with the same parameters it trained "
                    f"{len(trained)} network(s) again ({trained[0]['role']}): its cache key "
                    "changes between applications (an unstable role, e.g. a timestamp or "
                    "object id in it?)")
    keys_a, keys_b = [r["key"] for r in first.records], [r["key"] for r in second.records]
    if keys_a != keys_b:
        report.fail(prop, f"applied again with the same parameters it asked for networks "
                    f"{[k[:8] for k in keys_b]}, first {[k[:8] for k in keys_a]}")
    report.ok(prop)
