"""Analysis runners: the public Python functions behind ``ftgeo analyze NAME``.

Each ``run_<name>(reps..., run=RunDir|None, ...)`` reads representations, calls the pure
analysis functions, saves a typed result under ``run.results/<name>`` and draws its figures
into ``run.figures``. The CLI verbs are thin wrappers over these.
"""
