# vh: Nuke UI start-up: a toolbar entry and a Nodes-menu entry for the VHMAE Harmonize node.
import nuke

_command = "import vh_nuke.node; vh_nuke.node.create()"
nuke.toolbar("Nodes").addMenu("vh").addCommand("VHMAE Harmonize", _command)
nuke.menu("Nodes").addMenu("Filter").addCommand("VHMAE Harmonize", _command)
