"""The error hierarchy every vh entry point catches.

A `VhError` is an expected failure caused by the user's input or environment. Its message is one line that a
compositor can act on; the CLI prints it without a traceback and the server maps it to a gRPC status.
"""

import signal


class VhError(Exception):
    """Base class for expected, user-facing failures."""


class InputError(VhError, ValueError):
    """The input is malformed: wrong sizes, NaN/Inf pixels, unreadable or corrupt files."""


class MissingFrameError(InputError):
    """A frame of a sequence is missing; the message names it."""


class UnknownModelError(VhError, KeyError):
    """A model name that is not in the registry."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown model"


class OutputError(VhError, OSError):
    """The output cannot be written (permissions, missing folder, full disk)."""


class ResourceError(VhError, RuntimeError):
    """The device is out of memory or otherwise exhausted; retrying with less work may succeed."""


class MissingWeightsError(VhError):
    """A learned model was asked for, but no trained weights ship for it and no checkpoint was given."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where a command is so that its cleanup runs as for Ctrl-C (a KeyboardInterrupt); the
    CLI exits 143 for it, 130 for Ctrl-C. Not a VhError: nothing was wrong with the input."""

    signum = signal.SIGTERM
