"""``eosdyn explore``: a local web app (Bokeh server) to click through the orbit diagram.

* :mod:`eosdyn.explore.model` -- pure functions, no Bokeh: controls to :class:`~eosdyn.model.params.Params`,
  live runs (cancellable, with progress), decimated series, phase bands, portraits, the summary,
  saving under a fresh name;
* :mod:`eosdyn.explore.orbits` -- the orbit diagram: loaded from a file or computed in the
  background in chunks (with progress), and its points;
* :mod:`eosdyn.explore.app` -- the Bokeh document (needs ``bokeh``);
* :mod:`eosdyn.explore.server` -- serving it on loopback, stopping cleanly on SIGINT.

Only :mod:`~eosdyn.explore.app` and :mod:`~eosdyn.explore.server` import Bokeh; ``import eosdyn``
imports none of this.
"""
