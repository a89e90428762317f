"""Code that runs inside a host's Python (Nuke, Resolve): standard library only, Python 3.9+. Hosts import
`vh_outproc` as a top-level module from this folder (or from a copy of the file)."""
