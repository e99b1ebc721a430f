"""Memory a run needs before it allocates it: refuse a run that cannot fit, in one line.

Only the parameters ``A`` (m,) and ``W`` (m, d) can be large (the reduced engines' state is
O(r^2)). When they are materialised (engine ``full``, or ``init_sampler`` ``parameters`` /
``auto`` at small ``m d``) the peak holds ``W`` several times: the Gaussian draw and its
scaling, and for engine ``full`` the engine's own copy and a scratch copy (:data:`COPIES`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ParameterError

#: copies of W (m x d float64) held at the peak: engine full (problem, engine, scratch), and
#: a materialised initial state for the reduced engines (the draw and its scaling)
COPIES = {"full": 3, "other": 2}


def available_bytes() -> int | None:
    """Memory this process can still allocate: the smaller of the system's available memory
    (``MemAvailable``) and the cgroup's limit minus its usage; None when unknown."""
    values = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                values.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit, usage in (("memory.max", "memory.current"),
                         ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        try:
            lim = (Path("/sys/fs/cgroup") / limit).read_text().strip()
            if lim != "max" and int(lim) < 1 << 60:
                values.append(int(lim) - int((Path("/sys/fs/cgroup") / usage).read_text()))
        except (OSError, ValueError):
            pass
    if not values:
        try:
            values.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return None
    return max(0, min(values))


def needed_bytes(m: int, d: int, r: int, engine: str) -> int:
    """Peak bytes of the materialised parameters of width ``m`` on data of dimension ``d``, rank ``r``."""
    copies = COPIES["full"] if engine == "full" else COPIES["other"]
    return 8 * m * (copies * (d + 1) + r)


def _gb(x: float) -> str:
    return f"{x / 1e9:.3g} GB" if x >= 1e8 else f"{x / 1e6:.3g} MB"


def check_memory(params, d: int, r: int, available: int | None = None) -> None:
    """ParameterError (naming ``m``) if materialising the parameters of ``params`` does not fit."""
    need = needed_bytes(params.m, d, r, params.engine)
    have = available_bytes() if available is None else available
    if have is None or need <= have:
        return
    what = f"the run needs about {_gb(need)} to hold A and W ({params.m:,} x {d} float64"
    what += f", {COPIES['full']} copies for engine full)" if params.engine == "full" else ")"
    if params.engine == "full":
        fix = "engine='reduced' (exact, O(r^2) whatever m) needs none of it"
    else:
        fix = "init_sampler='wishart' needs none of it"
    raise ParameterError("m", f"{params.m}: {what}; {_gb(have)} is available; {fix}")
