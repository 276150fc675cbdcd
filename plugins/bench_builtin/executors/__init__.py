"""Built-in executors: ``serial`` (in this process, the default) and ``process`` (a local pool
of worker processes that isolates crashes and enforces cell time limits)."""
