"""The "VHMAE Harmonize" node for Nuke 14-16 (Python 3.9+, PySide2 or PySide6: no Qt code is needed here).

The node is the gizmo VHMAE_Harmonize.gizmo; this package holds its callbacks. It stays thin: it renders the
plate and matte to EXR, sends them to a vh-server through `vh.server.client`, and reads the results back.
"""

__version__ = "0.1.0"
