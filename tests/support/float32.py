"""Comparing embeddings the cache gave back with the originals: equal up to float32 rounding.

A computed embedding is stored once, as its entry's unit float32 vector and its norm, so it
comes back as ``unit * norm`` rounded to float32: each component within a few float32 ulps
of the original (relative error below 2**-22, or 2**-148 of the norm for components too
small for a normal float32 unit component, or 2**-149 for a component that is itself too
small for a normal float32: rounding it to float32 loses up to half of that).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["float32_close"]


def float32_close(got: Any, want: Any) -> bool:
    """Whether ``got`` equals ``want`` (vectors, or nested lists of vectors) up to the float32
    rounding of a stored embedding; shapes must match."""
    g = np.asarray(got, dtype=np.float64)
    w = np.asarray(want, dtype=np.float64)
    if g.shape != w.shape:
        return False
    if w.size == 0:
        return True
    norm = np.linalg.norm(w, axis=-1, keepdims=True)
    return bool(np.all(np.abs(g - w) <= 2.0**-22 * np.abs(w) + 2.0**-148 * norm + 2.0**-149))
