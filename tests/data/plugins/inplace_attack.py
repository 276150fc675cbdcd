"""A -p plugin whose attacks write into their input ``x`` in place (the host must not care)."""

import numpy as np

from bench import hookimpl
from bench.interfaces import Attack, AttackOutput


class InPlace(Attack):
    """Writes into x like careless NumPy code does; x_adv is then the changed x (delta 0)."""

    name = "inplace"
    version = "0.0.1"

    def bound(self):
        return ("inf", 0.01)

    def generate(self, model, x, y, targets, clip_values, num_classes):
        np.clip(x + 0.3, *clip_values, out=x)
        return AttackOutput(x.copy())


class InPlaceForced(InPlace):
    """Goes out of its way: makes the array (and what it views) writeable first."""

    name = "inplace-forced"

    def generate(self, model, x, y, targets, clip_values, num_classes):
        chain = [x]
        while isinstance(chain[-1].base, np.ndarray):
            chain.append(chain[-1].base)
        for a in reversed(chain):
            a.flags.writeable = True
        np.clip(x + 0.3, *clip_values, out=x)
        return AttackOutput(x.copy())


@hookimpl
def bench_register_attacks():
    return [InPlace, InPlaceForced]
