"""Check, at load, that a vh installation is configured for the node's out-of-process jobs, and say how if
not.

Nothing of vh, grpcio, protobuf or numpy is imported into Nuke's Python: jobs and server queries run in the
Python of a separate vh installation (see client/inhost/vh_outproc.py). Standard library only, Python 3.9+.
"""

from typing import Optional

import vh_outproc


def problem() -> Optional[str]:
    """A readable one-line message when no usable vh installation is configured, else None."""
    issue = vh_outproc.problem()
    return None if issue is None else f"VHMAE Harmonize cannot run jobs: {issue}"
