"""How a run's summary reads: :class:`Summary`, a dict that prints as the ``eosdyn simulate`` table.

:func:`eosdyn.summarize` returns a :class:`Summary`: a plain ``dict`` (JSON-serialisable, what
``eosdyn simulate --json`` prints) whose ``str()`` -- and rich rendering -- is the table the
command line prints. Rows follow :data:`LABELS` (label and format per key, in this order);
a key without an entry is shown after them with its name as label, so new summaries appear
without touching this module (add a label here to make one read well).
"""

from __future__ import annotations

import math

import numpy as np

PHASE_NAMES = {1: "I", 2: "II", 3: "III", 4: "IV"}


def _num(v) -> str:
    return f"{v:.4g}"


def _step(v) -> str:
    return "never" if v is None or (isinstance(v, int) and v < 0) else str(v)


def _seconds(v) -> str:
    return f"{v:.2f} s"


def _phases(v) -> str:
    return " ".join(PHASE_NAMES.get(int(p), str(p)) for p in v) or "none"


def _phase_steps(v) -> str:
    """``{"I": 31000, ..., "stationary": 0}`` as ``I 31000, II 120, ...`` (phases with steps only)."""
    return ", ".join(f"{k} {n}" for k, n in v.items() if n) or "none"


#: key -> (label, format), in the order of the table
LABELS = {
    "initial_eta_sharpness": ("initial eta*Lambda", _num),
    "max_eta_sharpness": ("max eta*Lambda", _num),
    "optimizer": ("optimizer", str),
    "edge": ("edge", lambda v: f"{v:.6g}"),
    "edge_sharpness": ("sharpness compared with the edge", str),
    "late_edge_ratio": ("late-time mean sharpness / edge", _num),
    "first_cross_step": ("first step with Lambda > 2/eta", _step),
    "n_eos_excursions": ("EoS excursions (≥ 2 steps > 2/eta)", str),
    "n_period2_flips": ("period-2 flips (1 step > 2/eta)", str),
    "phases": ("phases seen", _phases),
    "phase_steps": ("steps per phase", _phase_steps),
    "anomalies": ("steps with anomaly (Fig. 2)", str),
    "max_hessian_ratio": ("max lambda_max(Hessian) / Lambda", _num),
    "final_hessian_ratio": ("final lambda_max(Hessian) / Lambda", _num),
    "initial_loss": ("initial loss", _num),
    "final_loss": ("final loss", _num),
    "min_loss": ("min loss", _num),
    "max_loss": ("max loss", _num),
    "summaries_over": ("counts and extremes over", str),
    "status": ("status", str),
    "run_time": ("simulate time (without compiling)", _seconds),
    "compile_time": ("numba compile / cache load", _seconds),
    "wall_time": ("wall time", _seconds),
}
#: keys shown in the title or merged into another row, not as rows of their own
HIDDEN = ("engine", "m", "eta", "steps", "status_step", "message")


def _generic(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, float | np.floating):
        return "n/a" if math.isnan(v) else _num(float(v))
    if isinstance(v, dict):
        return ", ".join(f"{k} {_generic(x)}" for k, x in v.items())
    if isinstance(v, list | tuple):
        return " ".join(_generic(x) for x in v)
    return str(v)


#: the optimizer's edge (:mod:`eosdyn.optim`): rows shown for every run but plain full-batch GD
EDGE_KEYS = ("optimizer", "edge", "edge_sharpness", "late_edge_ratio")
#: labels that read "the edge" instead of "2/eta" for other optimizers
EDGE_LABELS = {"first_cross_step": "first step above the edge",
               "n_eos_excursions": "EoS excursions (≥ 2 steps > edge)",
               "n_period2_flips": "period-2 flips (1 step > edge)"}


class Summary(dict):
    """A run's summary: a dict whose ``str()`` is the ``eosdyn simulate`` table."""

    def plain_gd(self) -> bool:
        """Full-batch GD, whose edge is 2/eta on Lambda (no optimizer rows)."""
        return self.get("optimizer", "gd") == "gd" and self.get("edge_sharpness", "sharpness") == "sharpness"

    def title(self) -> str:
        eta = self.get("eta")
        parts = [f"m={self['m']}" if "m" in self else "", f"eta={eta:g}" if isinstance(eta, float) else ""]
        return f"eosdyn {self.get('engine', 'run')}: " + ", ".join(p for p in parts if p)

    def rows(self) -> list[tuple[str, str]]:
        """``(label, value)`` pairs in table order."""
        hidden = HIDDEN + (EDGE_KEYS if self.plain_gd() else ())
        keys = [k for k in LABELS if k in self and k not in hidden] + \
            [k for k in self if k not in LABELS and k not in hidden]
        if "run_time" in self:  # the split replaces the total
            keys = [k for k in keys if k != "wall_time"]
        out = []
        for key in keys:
            label, fmt = LABELS.get(key, (key.replace("_", " "), _generic))
            if not self.plain_gd():
                label = EDGE_LABELS.get(key, label)
            value = self[key]
            text = fmt(value) if value is not None or fmt is _step else "n/a"
            if key == "status" and "status_step" in self:
                text = f"{value} at step {self['status_step']}"
            out.append((label, text))
        return out

    def __rich__(self):
        from rich.table import Table

        table = Table(title=self.title(), show_header=False)
        table.add_column("quantity")
        table.add_column("value", justify="right")
        for row in self.rows():
            table.add_row(*row)
        return table

    def __str__(self) -> str:
        import io

        from rich.console import Console

        buf = io.StringIO()
        Console(file=buf, width=100, no_color=True, highlight=False).print(self.__rich__())
        return buf.getvalue().rstrip("\n")


def optional_summaries(ds) -> dict:
    """Summaries of what only some runs record: the Hessian/NTK sharpness ratio (``hessian=True``)
    and the time spent compiling (``compile_time``, ``run_time`` attrs of :func:`eosdyn.simulate`)."""
    out = {}
    if "sharpness_hessian" in ds:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.asarray(ds["sharpness_hessian"].values / ds["sharpness"].values, dtype=float)
        ratio = ratio[np.isfinite(ratio)]
        out["max_hessian_ratio"] = float(ratio.max()) if ratio.size else None
        out["final_hessian_ratio"] = float(ratio[-1]) if ratio.size else None
    for key in ("run_time", "compile_time"):
        if key in ds.attrs:
            out[key] = float(ds.attrs[key])
    return out
