"""vwt_model: the bring-your-own scikit-learn image's training and serving code.

`spec` (algorithms, hyperparameters, metrics) has no third-party imports; the
deployment tool reads it to validate the model catalogue.
"""

__version__ = "0.1.0"
