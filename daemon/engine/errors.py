"""Errors a person can act on. Each carries a stable ``code`` and one sentence (``str(e)``)."""


class EngineError(Exception):
    code = "engine_error"


class BadInput(EngineError):
    """The request cannot work as given (bad option, unreadable image, mask index out of range...)."""

    code = "bad_input"


class EmptyRegion(BadInput):
    """A region's mask selects nothing at all."""

    code = "empty_region"


class WeightsUnavailable(EngineError):
    """The VGG-19 weights asked for cannot be loaded here."""

    code = "weights_unavailable"


class OutOfMemory(EngineError):
    """The device ran out of memory and no smaller fallback was possible."""

    code = "out_of_memory"
