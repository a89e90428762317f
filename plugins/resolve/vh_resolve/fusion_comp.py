"""Fusion page (Resolve) or Fusion Studio: harmonize the selected MediaIn/Loader with vh-server.

Select the plate (a MediaIn or Loader) and, optionally, a second tool whose alpha is the matte; then run
Workspace > Scripts > Comp > VHMAE Harmonize. The script renders the comp's render range of both through a
temporary Saver to EXR, streams them to the server, and adds a Loader with the result, rewired into every
input the plate fed. Nothing else in the comp changes, and the whole edit is one undo step.

Fusion calls follow the Fusion Scripting Guide (Composition.AddTool/GetToolList/Render/AskUser/Lock/StartUndo,
Operator.SetInput/ConnectInput/Delete/SetAttrs, Output.GetConnectedInputs, Input.ConnectTo). Standard library
only, Python 3.9+: the job runs out of process in the vh installation's Python (vh_outproc); its progress
lines are printed to the console, and stopping the script (its stdin closes) or `cancelled()` stops the job
cleanly."""

import os
import shutil

import vh_outproc

from vh_resolve import colour, settings

PLATE_TOOLS = ("MediaIn", "Loader")
DEFAULT_COLORSPACE = (
    "Linear Rec.709 (sRGB)"  # Fusion Studio's linear working space when no project says otherwise
)
SAVER_EXR_FLOAT = 2  # OpenEXRFormat.Depth: 1 = half, 2 = float


class FusionScriptError(Exception):
    """A problem the user can fix; shown as one line in the console."""


def _reg_id(tool):
    return tool.GetAttrs()["TOOLS_RegID"]


def selected_plate_and_matte(comp):
    tools = list((comp.GetToolList(True) or {}).values())
    plates = [t for t in tools if _reg_id(t) in PLATE_TOOLS]
    if not plates:
        raise FusionScriptError(
            "select the plate (a MediaIn or Loader) and, optionally, a matte tool, then run again"
        )
    plate = plates[0]
    others = [t for t in tools if t is not plate]
    return plate, (others[0] if others else None)


def render_to_exr(comp, tool, folder, name, first, last):
    """Render `tool`'s output for first..last to folder/name_NNNN.exr through a temporary Saver."""
    saver = comp.AddTool("Saver", -32768, -32768)
    muted = []
    try:
        saver.SetInput("Clip", os.path.join(folder, name + "_.exr"))
        saver.SetInput("OutputFormat", "OpenEXRFormat")
        saver.SetInput("OpenEXRFormat.Depth", SAVER_EXR_FLOAT)
        saver.ConnectInput("Input", tool)
        for other in (comp.GetToolList(False, "Saver") or {}).values():
            if other is not saver and not other.GetAttrs().get("TOOLB_PassThrough"):
                other.SetAttrs({"TOOLB_PassThrough": True})  # render only our Saver
                muted.append(other)
        if not comp.Render({"Start": first, "End": last, "Wait": True}):
            raise FusionScriptError(
                "the Fusion render of %s failed; see the console" % tool.GetAttrs()["TOOLS_Name"]
            )
    finally:
        for other in muted:
            other.SetAttrs({"TOOLB_PassThrough": False})
        saver.Delete()
    return os.path.join(folder, name + "_%04d.exr")


def ask_settings(comp, server, model):
    """Fusion's AskUser dialog for server, model and strength; None when the user cancels."""
    answer = comp.AskUser(
        "VHMAE Harmonize",
        {
            1: {1: "server", 2: "Text", "Name": "vh-server address", "Default": server, "Lines": 1},
            2: {
                1: "model",
                2: "Text",
                "Name": "model (empty = server default)",
                "Default": model,
                "Lines": 1,
            },
            3: {1: "strength", 2: "Slider", "Name": "strength", "Default": 1.0, "Min": 0.0, "Max": 1.0},
        },
    )
    if answer is None:
        return None
    return answer["server"], answer["model"], float(answer["strength"])


def main(comp, project=None, ask=True, server=None, model=None, strength=1.0, log=print, cancelled=None):
    """Run the whole job on `comp`; returns the new Loader, or None when cancelled or failed (message
    logged)."""
    server, model = server or settings.server(), model if model is not None else settings.model()
    try:
        plate, matte = selected_plate_and_matte(comp)
        if ask:
            chosen = ask_settings(comp, server, model)
            if chosen is None:
                return None
            server, model, strength = chosen
        config, space = (
            colour.ocio_settings(project)
            if project is not None
            else (
                os.environ.get("VH_OCIO", colour.STUDIO_CONFIG),
                os.environ.get("VH_COLORSPACE", DEFAULT_COLORSPACE),
            )
        )
        attrs = comp.GetAttrs()
        first, last = int(attrs["COMPN_RenderStart"]), int(attrs["COMPN_RenderEnd"])
        folder = settings.work_dir("vh-fusion-")
        try:
            log("[vh] rendering frames %d-%d to EXR..." % (first, last))
            plate_pattern = render_to_exr(comp, plate, folder, "plate", first, last)
            matte_pattern = render_to_exr(comp, matte, folder, "matte", first, last) if matte else None
            job = dict(
                server=server,
                plate=plate_pattern,
                matte=matte_pattern,
                first=first,
                last=last,
                model=model,
                strength=strength,
                colorspace=space,
                ocio_config=config,
                client_name="Fusion / vh_resolve",
            )
            result = vh_outproc.run_job(
                job, settings.cache_root(), progress=lambda d, t, m: log("[vh] %s" % m), cancelled=cancelled
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    except vh_outproc.JobCancelled:
        log("[vh] cancelled: no result kept")
        return None
    except (FusionScriptError, vh_outproc.JobError, ValueError) as exc:
        log("[vh] error: %s" % exc)
        return None
    return add_result_loader(comp, plate, result, first)


def add_result_loader(comp, plate, result_pattern, first):
    """A Loader on the result sequence, taking over every input the plate fed (one undo step)."""
    comp.StartUndo("VHMAE Harmonize")
    comp.Lock()
    try:
        loader = comp.AddTool("Loader", -32768, -32768)
        loader.SetInput("Clip", result_pattern % first)
        loader.SetInput("GlobalIn", first)
        for target in list((plate.Output.GetConnectedInputs() or {}).values()):
            target.ConnectTo(loader.Output)
        loader.SetAttrs({"TOOLS_Name": "VHMAE_Harmonized"})
    finally:
        comp.Unlock()
        comp.EndUndo(True)
    return loader
