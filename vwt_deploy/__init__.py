"""vwt-deploy: stand up, run and tear down the VWT machine-learning framework on AWS."""

__version__ = "0.1.0"
