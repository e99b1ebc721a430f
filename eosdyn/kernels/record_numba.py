"""The ONE recording loop shared by every step-by-step engine (layout in :mod:`.layout`).

An engine's kernel module describes the state it advances as a namedtuple, its *model*
(arrays and scalars: the state, the data, scratch), and registers its hooks for that class
with :func:`register`::

    classify(md, t, ctl, carry) -> (code, loss)   stop code at step t (-1: go on); folds the
                                                   loss into the window (use :func:`classify`)
    diagnose(md, row)                              the NDIAG diagnostics of the current state
    edge(md) -> (a, G, s, n, m, finite)            what the Gram matrix K = (2/n) S ((a/m) I + G) S
                                                   of the state is made of, and whether it is finite
    step(md, t)                                    advance the state from step t to t + 1
    copy(md, look)                                 copy the state into the scratch ``look``
    extras(md, t, nrow)                            optional: engine-specific columns of row
                                                   ``nrow`` (recorded step ``t``, before the step
                                                   is taken; e.g. the optimizers' batch sharpness)

(jitted functions with exactly these argument names; their bodies are inlined into the loop).

:func:`run` then processes steps ``ctl.t0 <= t < ctl.t1`` (a chunk; any chunking gives the same
result). At every step it classifies the state, enters it into the per-step edge tracker
(:mod:`.edge_numba`: phases, anomalies, excursions, flips and the run's summaries, over every
step whatever is recorded), and at recorded steps (``t % every == 0``, ``t = steps`` and the
step where the run stops) writes a row: the diagnostics of step ``t`` and, from a lookahead,
``Lambda`` and ``||A||^2`` of step ``t + 1``. The lookahead steps the model itself, except at the
stopping step where it steps ``look`` (the state stays at the stop); a divergence has no
lookahead. ``progress = [code, stop step, rows, next t]`` is updated in place.

Bundles passed to :func:`run` (namedtuples, so numba types them by field):

* :data:`Control`: ``t0, t1, steps, every, loss_tol, max_loss, eta, sigma, track`` (``sigma``
  the run's edge: ``2/eta`` for GD, the optimizer's otherwise; ``track = False`` skips the
  per-step tracker: rows get no phase, and the summaries are not computed -- for ranks where a
  per-step eigenvalue would dominate the cost, or runs whose edge is not on ``Lambda``);
* :data:`Record`: ``rec, rec_step, carry, progress, track_f, track_i`` (the outputs);
* :class:`.edge_numba.EdgeWork`: the tracker's workspace.

The hooks are resolved at compile time (``numba.extending.overload`` on the model's class), so
the loop is compiled, and cached, once per engine with no indirection at run time.
"""

import math
from collections import namedtuple

from numba.extending import overload

from . import edge_numba as E
from . import layout as L
from ._numba import JIT_OPTIONS, jit

Control = namedtuple("Control", ["t0", "t1", "steps", "every", "loss_tol", "max_loss", "eta", "sigma",
                                 "track"])
Record = namedtuple("Record", ["rec", "rec_step", "carry", "progress", "track_f", "track_i"])

HOOKS = ("classify", "diagnose", "edge", "step", "copy")
#: hooks a model may leave out (a no-op then)
OPTIONAL_HOOKS = ("extras",)
_REGISTRY: dict = {}


@jit
def no_extras(md, t, nrow):
    """The default ``extras`` hook: nothing."""
    return None


def register(model_class, **hooks) -> None:
    """Register the jitted hooks of an engine's model class (all of :data:`HOOKS`; the
    :data:`OPTIONAL_HOOKS` default to no-ops)."""
    missing = set(HOOKS) - set(hooks)
    unknown = set(hooks) - set(HOOKS) - set(OPTIONAL_HOOKS)
    if missing or unknown:
        raise TypeError(f"{model_class.__name__}: missing hooks {sorted(missing)}, unknown {sorted(unknown)}")
    _REGISTRY[model_class] = {"extras": no_extras, **hooks}


def _hook(model, name):
    cls = getattr(model, "instance_class", None)
    if cls not in _REGISTRY:
        raise TypeError(f"no recording hooks registered for {model}")
    return _REGISTRY[cls][name]


def h_classify(md, t, ctl, carry):
    raise NotImplementedError  # resolved by the overload below


def h_diagnose(md, row):
    raise NotImplementedError


def h_edge(md):
    raise NotImplementedError


def h_step(md, t):
    raise NotImplementedError


def h_copy(md, look):
    raise NotImplementedError


def h_extras(md, t, nrow):
    raise NotImplementedError


def _impl(model, name):
    """The registered hook's Python function: the overload compiles (and inlines) its body
    directly, so a hook costs no call and no reference counting of the model's arrays."""
    fn = _hook(model, name)
    return getattr(fn, "py_func", fn)


@overload(h_classify, jit_options=JIT_OPTIONS, inline="always")
def _ov_classify(md, t, ctl, carry):
    return _impl(md, "classify")


@overload(h_diagnose, jit_options=JIT_OPTIONS, inline="always")
def _ov_diagnose(md, row):
    return _impl(md, "diagnose")


@overload(h_edge, jit_options=JIT_OPTIONS, inline="always")
def _ov_edge(md):
    return _impl(md, "edge")


@overload(h_step, jit_options=JIT_OPTIONS, inline="always")
def _ov_step(md, t):
    return _impl(md, "step")


@overload(h_copy, jit_options=JIT_OPTIONS, inline="always")
def _ov_copy(md, look):
    return _impl(md, "copy")


@overload(h_extras, jit_options=JIT_OPTIONS, inline="always")
def _ov_extras(md, t, nrow):
    return _impl(md, "extras")


@jit
def fold_loss(loss, carry):
    """Fold ``loss`` into the extremes of the current row's window."""
    if loss < carry[L.C_WMIN]:
        carry[L.C_WMIN] = loss
    if loss > carry[L.C_WMAX]:
        carry[L.C_WMAX] = loss


@jit
def classify(loss, reducible, a, t, ctl, carry):
    """Fold ``loss`` into the window extremes; the stop code at step ``t`` (-1: go on):
    diverged (loss or ``|a|`` not below ``max_loss``, or not finite), converged (``reducible
    <= loss_tol``), max_steps (``t = steps``)."""
    fold_loss(loss, carry)
    if not (loss < ctl.max_loss and math.isfinite(a) and abs(a) < ctl.max_loss):
        return L.DIVERGED
    if reducible <= ctl.loss_tol:
        return L.CONVERGED
    if t == ctl.steps:
        return L.MAX_STEPS
    return -1


@jit
def write_row(rec, rec_step, nrow, row, carry, t, code):
    """Row ``nrow`` = diagnostics ``row`` of step ``t`` and the loss window (then reset)."""
    for k in range(L.NDIAG):
        rec[nrow, k] = row[k]
    rec[nrow, L.LOSS_MIN] = carry[L.C_WMIN]
    rec[nrow, L.LOSS_MAX] = carry[L.C_WMAX]
    carry[L.C_WMIN] = math.inf
    carry[L.C_WMAX] = -math.inf
    rec_step[nrow] = t
    if code == L.DIVERGED:  # no step t + 1
        rec[nrow, L.SHARP_NEXT] = math.nan
        rec[nrow, L.A_NEXT] = math.nan


@jit
def write_next(rec, nrow, row_next, carry, reusable):
    """Lambda and ||A||^2 of step ``t + 1`` into row ``nrow``; ``row_next`` stays cached in
    ``carry`` for step ``t + 1`` when it is the engine's actual next state (``reusable``)."""
    rec[nrow, L.SHARP_NEXT] = row_next[L.SHARP]
    rec[nrow, L.A_NEXT] = row_next[L.A_NORM2]
    carry[L.C_HAVE] = 1.0 if reusable else 0.0


# The tracker's helpers are calls, not inlined: inlined into the loop, binding ``model`` and ``ew``
# (the eigen trackers: dozens of arrays) to their arguments cost an increment and a decrement of
# every array per step, which numba's pruning does not remove across the branches here -- 0.7 us a
# step at r = 5, seven times the map itself. The every-step part (:func:`_observation_small`,
# :func:`_enter_observed`) is compiled without reference counting; :func:`_observation_general`, which
# may reach the block eigen path (it allocates), is reference counted and runs only where the
# first is not done (ranks above ``R_FULL``; a warm value that did not certify). The loop writes the pair
# of calls out at each of its three places: even a two-line inlined wrapper binds ``model`` and
# ``ew`` again (measured: 0.94 instead of 0.28 us a tracked step at r = 5).
@jit(_nrt=False)
def _observation_small(model, ew, sigma):
    """``(Lambda, ||A||^2, above, finite, done)`` of the model's current state by
    :func:`.edge_numba.observe_small` (``done`` False: use :func:`_observation_general`)."""
    if not E.whole_space(ew):
        return math.nan, math.nan, False, False, False
    a, G, s, n, m, finite = h_edge(model)
    lam, up, done = E.observe_small(a, G, s, n, m, finite, ew, sigma)
    return lam, a, up, finite, done


@jit
def _observation_general(model, ew, sigma):
    """``(Lambda, ||A||^2, above, finite)`` by :func:`.edge_numba.observe_general`."""
    a, G, s, n, m, finite = h_edge(model)
    if not finite:
        return math.nan, a, False, False
    lam, up = E.observe_general(a, G, s, n, m, ew, sigma)
    return lam, a, up, finite


@jit(_nrt=False)
def _enter_observed(t, loss, ctl, tf, ti, lam, a, up, finite):
    """Enter step ``t`` with its observation: finalise the pending step, then :func:`.edge_numba.enter`."""
    if ti[L.TI_PENDING] == 1:
        E.finalise(tf, ti, lam, a, up, finite, ctl.sigma)
    E.enter(tf, ti, t, lam, a, up, finite, ctl.eta, loss, E.late_start(ctl.steps))


@jit
def run(model, look, ctl, out, ew):
    """Process steps ``[ctl.t0, ctl.t1)`` of ``model`` (see the module docstring)."""
    rec, rec_step, carry, progress = out.rec, out.rec_step, out.carry, out.progress
    tf, ti = out.track_f, out.track_i
    sigma = ctl.sigma
    nrow = progress[L.P_ROWS]
    row = carry[L.C_DIAG:]
    t = ctl.t0
    while t < ctl.t1:
        code, loss = h_classify(model, t, ctl, carry)
        if ctl.track:  # enter step t (its observation cached by a lookahead, or computed)
            if E.have_next(ti):
                lam, a = tf[L.TF_NEXT_LAM], tf[L.TF_NEXT_A]
                up, finite = ti[L.TI_NEXT_ABOVE] == 1, ti[L.TI_NEXT_FINITE] == 1
            else:
                lam, a, up, finite, done = _observation_small(model, ew, sigma)
                if not done:
                    lam, a, up, finite = _observation_general(model, ew, sigma)
            _enter_observed(t, loss, ctl, tf, ti, lam, a, up, finite)
        if code >= 0 or t % ctl.every == 0:
            if carry[L.C_HAVE] == 0.0:
                h_diagnose(model, row)
            write_row(rec, rec_step, nrow, row, carry, t, code)
            h_extras(model, t, nrow)
            phase, anomaly = L.PH_UNKNOWN, False
            if code != L.DIVERGED:
                if code >= 0:  # look ahead on a scratch copy: the state stays at the stop
                    h_copy(model, look)
                    h_step(look, t)
                    h_diagnose(look, row)
                    if ctl.track:
                        lam, a, up, finite, done = _observation_small(look, ew, sigma)
                        if not done:
                            lam, a, up, finite = _observation_general(look, ew, sigma)
                        phase, anomaly = E.finalise(tf, ti, lam, a, up, finite, sigma)
                else:
                    h_step(model, t)
                    h_diagnose(model, row)
                    if ctl.track:
                        lam, a, up, finite, done = _observation_small(model, ew, sigma)
                        if not done:
                            lam, a, up, finite = _observation_general(model, ew, sigma)
                        phase, anomaly = E.finalise(tf, ti, lam, a, up, finite, sigma)
                        E.cache_next(tf, ti, lam, a, up, finite)
                write_next(rec, nrow, row, carry, code < 0)
            elif ctl.track:
                E.finalise_unknown(ti)
            if ctl.track:
                rec[nrow, L.PHASE] = phase
                rec[nrow, L.ANOMALY] = 1.0 if anomaly else 0.0
                E.flush_window(ti, rec, nrow)
            nrow += 1
            progress[L.P_ROWS] = nrow
            if code >= 0:
                progress[L.P_CODE] = code
                progress[L.P_STEP] = t
                progress[L.P_NEXT] = t
                return
        else:
            h_step(model, t)
            carry[L.C_HAVE] = 0.0
        t += 1
    progress[L.P_NEXT] = t
