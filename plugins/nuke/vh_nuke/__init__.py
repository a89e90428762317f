"""The "VHMAE Harmonize" node for Nuke 14-17 (Python 3.9+, PySide2 or PySide6: no Qt code is needed here).

The node is the gizmo VHMAE_Harmonize.gizmo; this package holds its callbacks. It stays thin and uses the
standard library only: it renders the plate and matte to EXR, runs the job in a separate vh installation's
Python (vh_outproc, which talks gRPC to vh-server), and reads the results back."""

__version__ = "0.2.0"
