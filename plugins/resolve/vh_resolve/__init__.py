"""DaVinci Resolve side of vh: a Fusion-page script and an Edit-page (timeline) script that harmonize through
vh-server. The scripts in scripts/ are tiny launchers that Resolve lists under Workspace > Scripts; the work
is done here, on top of `vh.client.host_job` (render -> stream -> cached EXR results)."""

__version__ = "0.1.0"
