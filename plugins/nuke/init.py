# vh: Nuke start-up (runs in terminal sessions too, so no UI code here).
# Puts the gizmo's folder on the plugin path and the out-of-process runner (vh_outproc: a copy in ./inhost,
# else the repository's client/inhost) on sys.path, and
# warns once, in the terminal, when no vh installation is configured (the node shows the same message).
# Nothing here imports grpcio, protobuf or numpy: jobs run in the vh installation's own Python.
import os
import sys

import nuke

_here = os.path.dirname(os.path.abspath(__file__))
nuke.pluginAddPath(_here)
_repo = os.path.dirname(os.path.dirname(_here))
for _runner in (os.path.join(_here, "inhost"), os.path.join(_repo, "client", "inhost")):
    if os.path.isfile(os.path.join(_runner, "vh_outproc.py")) and _runner not in sys.path:
        sys.path.append(_runner)
        break

from vh_nuke import deps  # noqa: E402 (found through the plugin path Nuke was just given)

_problem = deps.problem()
if _problem:
    nuke.tprint("[vh] " + _problem)
