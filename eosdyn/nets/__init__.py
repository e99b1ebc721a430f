"""Networks beyond two layers: deep linear networks, MLPs, CNNs and ResNet-18 (the ``network`` engine).

The paper's Section 3 framework, ``f(x) = c_out A^T h(W, x)``, on the networks it trained:

* :mod:`.spec` -- model specifications (``--model``), parsed without JAX;
* :mod:`.models` -- the networks and their exact forward formulas;
* :mod:`.step` -- pure ``init``/``step`` with an optimizer state, the compiled stepping loop;
* :mod:`.functions` -- outputs, the structured Gram matrix, matrix-free NTK and Hessian products;
* :mod:`.lanczos`, :mod:`.spectra` -- certified, warm-started eigenvalues; the record row;
* :mod:`.engine` -- :class:`~.engine.NetworkEngine`, registered as engine ``network``;
* :mod:`.inputs`, :mod:`.problem` -- image-shaped inputs, weights files, the problem.

JAX is optional (``pip install "eosdyn[nets]"``); importing this package does not import it.
"""

from .spec import ACTIVATIONS, PARAMETERIZATIONS, ModelSpec, parse

__all__ = ["ACTIVATIONS", "PARAMETERIZATIONS", "ModelSpec", "parse"]
