# VHMAE Harmonize (Fusion page / Fusion Studio): select the plate (MediaIn or Loader) and optionally a matte
# tool, then run from Workspace > Scripts > Comp. Installed by plugins/resolve/install.py.
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
        from vh_resolve import fusion_comp
    except ImportError as exc:
        print(
            "[vh] cannot load the VHMAE Harmonize scripts (%s); run: python3 plugins/resolve/install.py" % exc
        )
    else:
        _comp = globals().get("comp") or fusion.GetCurrentComp()  # noqa: F821 (Fusion predefines comp/fusion)
        _project = None
        try:
            _project = app.GetResolve().GetProjectManager().GetCurrentProject()  # noqa: F821 (inside Resolve)
        except Exception:
            pass  # Fusion Studio: no Resolve project, colour from VH_COLORSPACE or linear Rec.709
        fusion_comp.main(_comp, project=_project)
