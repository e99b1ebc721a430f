"""The orbit diagram of ``eosdyn explore``: loaded from a file, or computed in the background.

Computed diagrams are :func:`eosdyn.analysis.bifurcation.bifurcation` over ``eta`` (fresh starts from the
default scenario), run in chunks of values so that the page can show the progress; in fresh mode
every value is independent, so the chunks concatenate to the diagram of one call.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import xarray as xr

from ..analysis.bifurcation import bifurcation
from ..analysis.scan import Axis, parse_values
from ..errors import EosdynError, ParameterError
from ..io.files import open_output
from ..model.params import Params, make_params
from .model import warm_kernels

#: the diagram computed at start when no file is given: 128 values, the default scenario's steps
DEFAULT_RANGE = "0.002:0.2:128:log"
DEFAULT_STEPS = 100_000
#: orbit length (last steps kept per value)
KEEP = 100
#: values per chunk (one progress update each)
CHUNK = 8


def load_diagram(path) -> tuple[xr.Dataset, Params]:
    """An orbit diagram over ``eta`` saved by ``eosdyn bifurcation --out`` and the scenario it was
    made from (with the default ``loss_tol``: clicked runs stop at convergence like
    :func:`eosdyn.simulate`)."""
    p = Path(path)
    if not p.exists():
        raise EosdynError(f"bifurcation file {str(p)!r} does not exist")
    ds = open_output(p)
    a = ds.attrs
    if a.get("eosdyn_kind") != "bifurcation" or "orbit" not in ds or a.get("param") != "eta" or "parameters" not in a:
        raise EosdynError(f"{str(p)!r} is not an orbit diagram over eta (an eosdyn bifurcation "
                          "file over eta: eosdyn.bifurcation(param='eta', ...) saved with eosdyn.save)")
    base = make_params(**json.loads(ds.attrs["parameters"])["base"])
    return ds, base.replace(loss_tol=Params.loss_tol)


def concat(parts: list[xr.Dataset], scale: str) -> xr.Dataset:
    """Diagrams over consecutive chunks of ``eta`` values as one diagram."""
    ds = xr.concat(parts, dim="eta", combine_attrs="override")
    ds["eta"].attrs["scale"] = scale
    ds.attrs["wall_time"] = float(sum(p.attrs["wall_time"] for p in parts))
    return ds


class OrbitDiagram:
    """The diagram the page shows and, while it is computed, how far along it is.

    ``state()`` is safe from any thread: ``(done, total, ds or None, error or None)``.
    """

    def __init__(self, ds: xr.Dataset | None = None, params: Params | None = None,
                 values: str = DEFAULT_RANGE, steps: int = DEFAULT_STEPS, keep: int = KEEP):
        if ds is not None:
            self.axis = Axis("eta", tuple(float(v) for v in ds["eta"].values),
                             ds["eta"].attrs.get("scale", "log"))
            self.params = params
        else:
            self.axis = parse_values("eta", values)
            self.params = (params or make_params()).replace(steps=steps)
            for eta in self.axis.values:
                self.params.replace(eta=eta)  # a ParameterError names eta and its range
            if not 2 <= keep <= steps + 1:
                raise ParameterError("diagram_steps", f"must be >= {keep - 1}, got {steps}")
        self.keep = keep
        self._ds, self._error, self._done = ds, None, len(self.axis.values) if ds is not None else 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = time.perf_counter()

    @property
    def total(self) -> int:
        return len(self.axis.values)

    @property
    def eta_range(self) -> tuple[float, float]:
        return float(min(self.axis.values)), float(max(self.axis.values))

    def state(self):
        return self._done, self.total, self._ds, self._error

    def start(self) -> None:
        """Warm the kernels and, if there is no diagram yet, compute it, in a daemon thread."""
        self._thread = threading.Thread(target=self._work, name="eosdyn-explore-diagram", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _work(self) -> None:
        try:
            warm_kernels()
            if self._ds is None:
                self.compute()
        except Exception as exc:  # noqa: BLE001  (shown in the page)
            self._error = str(exc) if isinstance(exc, EosdynError) else f"{type(exc).__name__}: {exc}"

    def compute(self) -> xr.Dataset | None:
        """The diagram, chunk by chunk (``None`` if stopped first)."""
        values, parts = self.axis.values, []
        for i in range(0, len(values), CHUNK):
            if self._stop.is_set():
                return None
            chunk = Axis("eta", values[i:i + CHUNK], self.axis.scale)
            parts.append(bifurcation(self.params, "eta", chunk, keep=self.keep, backend="serial"))
            self._done = min(i + CHUNK, len(values))
        self._ds = concat(parts, self.axis.scale)
        return self._ds


def orbit_points(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """``(eta, value)`` of every finite orbit point of the values that did not diverge."""
    orbit = ds["orbit"].values
    ok = np.isfinite(orbit) & (ds["status"].values != 2)[:, None]
    return np.repeat(ds["eta"].values.astype(float), orbit.shape[1])[ok.ravel()], orbit[ok]


def diverged_bands(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """``(left, right)`` around each diverged value of ``eta``: halfway (geometric mean on a log axis,
    else arithmetic) to its neighbours."""
    eta = ds["eta"].values.astype(float)
    if eta.size < 2:
        return eta, eta
    log = ds["eta"].attrs.get("scale") == "log"
    mid = np.sqrt(eta[1:] * eta[:-1]) if log else (eta[1:] + eta[:-1]) / 2
    lo = np.concatenate([[eta[0]], mid])
    hi = np.concatenate([mid, [eta[-1]]])
    bad = ds["status"].values == 2
    return lo[bad], hi[bad]
