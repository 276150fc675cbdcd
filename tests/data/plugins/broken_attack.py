"""A -p plugin whose attack raises on its second batch (a plugin bug, not ours)."""

from bench import hookimpl
from bench.interfaces import Attack, AttackOutput

CALLS = []


class Broken(Attack):
    name = "broken"
    version = "0.0.1"

    def generate(self, model, x, y, targets, clip_values, num_classes):
        CALLS.append(len(x))
        if len(CALLS) > 1:
            raise RuntimeError("kaboom on batch 2")
        return AttackOutput(x.copy())


class OutOfRange(Attack):
    name = "out-of-range"
    version = "0.0.1"

    def generate(self, model, x, y, targets, clip_values, num_classes):
        return AttackOutput(x + 2.0)


@hookimpl
def bench_register_attacks():
    return [Broken, OutOfRange]
