"""The optional C accelerator (``semcache_core._speedups``); everything else is in pyproject.toml.

``optional=True``: without a C compiler the install still succeeds and the package runs its
pure Python twins of the same loops (see ``semcache_core/vector_values.py``).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "semcache_core._speedups",
            ["semcache_core/_speedups.c"],
            # no fused multiply-adds: the sums of squares must round as the numpy twin rounds
            extra_compile_args=["-O2", "-ffp-contract=off"],
            optional=True,
        )
    ]
)
