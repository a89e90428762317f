# vh: Nuke start-up (runs in terminal sessions too, so no UI code here).
# Puts the gizmo's folder on the plugin path and the shared out-of-process runner (../common) on sys.path, and
# warns once, in the terminal, when no vh installation is configured (the node shows the same message).
# Nothing here imports grpcio, protobuf or numpy: jobs run in the vh installation's own Python.
import os
import sys

import nuke

_here = os.path.dirname(os.path.abspath(__file__))
nuke.pluginAddPath(_here)
for _common in (os.path.join(_here, "common"), os.path.join(os.path.dirname(_here), "common")):
    if os.path.isfile(os.path.join(_common, "vh_outproc.py")) and _common not in sys.path:
        sys.path.append(_common)
        break

from vh_nuke import deps

_problem = deps.problem()
if _problem:
    nuke.tprint("[vh] " + _problem)
