"""Exceptions of the reference router: the same names and hierarchy as ``acd._core``'s."""


class AcdError(Exception):
    """Base of every error the reference router raises."""

    #: The error's category as ``acd._core`` names it (the ``rule`` of a batch ``error`` event).
    kind = "error"


class ConfigError(AcdError):
    """The router or a queue/agent definition is invalid; the message names the field."""

    kind = "config"


class NotFoundError(AcdError):
    """An id (call, agent, queue) is unknown to this router."""

    kind = "not-found"


class InvalidArgumentError(AcdError):
    """An argument is out of range or malformed; the message names the argument."""

    kind = "invalid-argument"


class IllegalTransitionError(AcdError):
    """The command is not allowed in the current state of the agent or call."""

    kind = "illegal-transition"
