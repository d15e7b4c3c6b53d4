"""Compiled loops (numba) for the few per-vertex and per-byte passes that numpy cannot vectorise.

They release the GIL, so the load's threads run them side by side, and their machine
code is cached next to the module; where that place is read-only (an installed
package) numba compiles them once in each process instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numba


def compiled(fn: Callable[..., Any], inline: Literal["never", "always"] = "never") -> Any:
    """``fn`` compiled without the GIL, its machine code cached when it can be (``inline``:
    for a small function called per pair, copied into its callers)."""
    try:
        return numba.njit(nogil=True, cache=True, inline=inline)(fn)
    except RuntimeError:  # no writable place for numba's cache
        return numba.njit(nogil=True, inline=inline)(fn)
