"""Neural style transfer daemon: the engine (``daemon.engine``), the ZeroMQ service
(``daemon.service``) and the command line (``python -m daemon``)."""

__version__ = "0.1.0"
