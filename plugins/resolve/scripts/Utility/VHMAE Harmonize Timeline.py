# VHMAE Harmonize (Edit page): harmonizes the clip under the playhead (its alpha is the matte) and puts the
# result on a new track above it. Run from Workspace > Scripts. Installed by plugins/resolve/install.py.
import os
import sys

_site = os.environ.get("VH_RESOLVE_SITE") or os.path.join(os.path.expanduser("~"), ".vh", "resolve-site")
if _site not in sys.path:
    sys.path.insert(0, _site)

if sys.version_info < (3, 9):
    print(
        "[vh] VHMAE Harmonize needs Python 3.9+ in Resolve (Preferences > General > Python); found %d.%d"
        % sys.version_info[:2]
    )
else:
    try:
        from vh_resolve import timeline
    except ImportError as exc:
        print(
            "[vh] cannot load the VHMAE Harmonize scripts (%s); run: python3 plugins/resolve/install.py" % exc
        )
    else:
        try:
            _resolve = app.GetResolve()
        except NameError:
            import DaVinciResolveScript  # external scripting, RESOLVE_SCRIPT_API on PYTHONPATH

            _resolve = DaVinciResolveScript.scriptapp("Resolve")
        timeline.main(_resolve)
