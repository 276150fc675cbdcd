"""A -p plugin that registers a second 'fgsm'."""

from bench import hookimpl
from bench.interfaces import Attack


class MyFgsm(Attack):
    name = "fgsm"


@hookimpl
def bench_register_attacks():
    return [MyFgsm]
