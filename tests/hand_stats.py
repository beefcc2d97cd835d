"""Hand-written reference procedures the tests check the library's statistics against."""

from __future__ import annotations


def holm(p):
    """Holm's step-down: sorted p_(j) times (m - j + 1), running maximum, capped at 1."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, run = [0.0] * len(p), 0.0
    for j, i in enumerate(order):
        run = max(run, min(1.0, (len(p) - j) * p[i]))
        out[i] = run
    return out
