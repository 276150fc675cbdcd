"""A -p plugin with a misspelled hook name: refused at start-up, not silently ignored."""

from bench import hookimpl


@hookimpl
def bench_register_attack():
    return []
