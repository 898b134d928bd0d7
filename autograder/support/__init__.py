"""Course support code the students do not write: data loaders, synthetic data and plots.

It ships with the engine, so it is importable in every place an assignment runs: the sandboxed
worker, the trusted grader process, ``--debug`` runs and the handouts' training scripts. One
module per kind of data; each function documents the shapes and dtypes it returns and is
deterministic given its ``seed``.
"""
