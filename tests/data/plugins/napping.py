"""A -p plugin for executor tests: ``nap`` attacks that sleep, so that several cells are known to
run at once (on different workers or nodes) while a test does something to them.

``attacks=[{name: nap, params: {tag: 1}}, {name: nap, params: {tag: 2}}]``: each cell appends
``started <tag> <pid>`` to the file named by NAP_MARKER, sleeps ``seconds`` and returns its input
unchanged (a valid adversarial batch: zero perturbation).
"""

import os
import time

from pydantic import Field

from bench import hookimpl
from bench.interfaces import Attack, AttackOutput, AttackParams


class NapParams(AttackParams):
    tag: int = 0
    seconds: float = Field(default=10.0, ge=0)


class Nap(Attack):
    name = "nap"
    Params = NapParams

    def generate(self, model, x, y, targets, clip_values, num_classes):
        with open(os.environ["NAP_MARKER"], "a") as f:
            f.write(f"started {self.params.tag} {os.getpid()}\n")
        time.sleep(self.params.seconds)
        return AttackOutput(x.copy())


@hookimpl
def bench_register_attacks():
    return [Nap]
