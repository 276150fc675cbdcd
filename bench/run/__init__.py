"""The run layer: data flows one way, plan -> executor -> work -> sink -> store.

- :mod:`bench.run.plan`: the suite resolved into training tasks (one per model x defense row)
  and cell tasks (one per white-box cell, carrying its transfer cells), with stable ids.
- :mod:`bench.run.work`: what a task computes, returned as plain picklable results; it never
  opens the store, prints or calls hooks, so it runs the same in this process, a worker process
  or on a Ray node.
- :mod:`bench.run.executor`: the seam an executor implements (``submit``, ``results``);
  executors are plugins registered through ``bench_register_executors``.
- :mod:`bench.run.sink`: the driver's side: results into the store, progress, hooks.
- :mod:`bench.run.driver`: a run from start to end (new or resumed), through an executor.
"""
