# vh: Nuke start-up (runs in terminal sessions too, so no UI code here).
# Puts the vh client's packages on sys.path and the gizmo's folder on the plugin path, and warns once, in the
# terminal, when a dependency is missing (the node shows the same message on its status line).
import os
import sys

import nuke

_here = os.path.dirname(os.path.abspath(__file__))
nuke.pluginAddPath(_here)

from vh_nuke import deps

if os.path.isdir(deps.SITE_DIR) and deps.SITE_DIR not in sys.path:
    sys.path.append(deps.SITE_DIR)

_problem = deps.problem()
if _problem:
    nuke.tprint("[vh] " + _problem)
