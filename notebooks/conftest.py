"""Settings for the notebooks run under pytest (nbval).

Notebook 06 trains a model from scratch; two epochs show the same steps in a fraction of the
time (``EOLAB_NOTEBOOK_EPOCHS``, unless already set). The kernels nbval starts inherit this
environment.
"""

import os

os.environ.setdefault("EOLAB_NOTEBOOK_EPOCHS", "2")
