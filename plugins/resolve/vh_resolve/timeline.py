"""Edit page (Resolve): harmonize the current timeline clip and place the result on a new track above it.

The clip's alpha is the matte (key it, or bring it in with an alpha channel, first). The script renders the
clip's range through the render queue as float EXR with alpha, streams the frames to vh-server, imports the
harmonized sequence with MediaPool.ImportMedia and appends it on a new video track at the clip's record frame.

Resolve calls follow Resolve's scripting README (checked against fusionscript-stubs in the tests). Standard
library only, Python 3.9+: the job (and the check that the clip has a matte) runs out of process in the vh
installation's Python (vh_outproc); progress lines go to the console, `cancelled()` stops the job cleanly.
"""

import glob
import os
import shutil
import time

import vh_outproc

from vh_resolve import colour, settings

RENDER_FORMAT, RENDER_CODEC = "exr", "RGBFloat"  # uncompressed float EXR, read by the job runner


class TimelineScriptError(Exception):
    """A problem the user can fix; shown as one line in the console."""


def render_item(project, item, folder, poll=0.2):
    """Render `item`'s record range to float EXR with alpha in `folder`; returns the rendered files, in
    order."""
    start, end = int(item.GetStart()), int(item.GetEnd())  # GetEnd is exclusive
    if not project.SetCurrentRenderFormatAndCodec(RENDER_FORMAT, RENDER_CODEC):
        raise TimelineScriptError("this Resolve cannot render %s/%s" % (RENDER_FORMAT, RENDER_CODEC))
    project.SetRenderSettings(
        {
            "SelectAllFrames": False,
            "MarkIn": start,
            "MarkOut": end - 1,
            "TargetDir": folder,
            "CustomName": "plate",
            "ExportVideo": True,
            "ExportAudio": False,
            "ExportAlpha": True,
        }
    )
    job_id = project.AddRenderJob()
    if not job_id:
        raise TimelineScriptError("could not add a render job (is the Deliver page busy?)")
    try:
        if not project.StartRendering([job_id], False):
            raise TimelineScriptError("Resolve refused to start the render")
        while project.IsRenderingInProgress():
            time.sleep(poll)
        status = project.GetRenderJobStatus(job_id) or {}
        if status.get("JobStatus") != "Complete":
            raise TimelineScriptError("render ended as %s" % status.get("JobStatus", "unknown"))
    finally:
        project.DeleteRenderJob(job_id)
    files = sorted(glob.glob(os.path.join(folder, "*.exr")))
    if len(files) != end - start:
        raise TimelineScriptError(
            "expected %d rendered frames, found %d in %s" % (end - start, len(files), folder)
        )
    return files


def as_sequence(files, folder):
    """Rename rendered files (Resolve numbers them by timecode) to plate.0001.exr...; returns the pattern."""
    pattern = os.path.join(folder, "plate.%04d.exr")
    for i, path in enumerate(files, start=1):
        os.replace(path, pattern % i)
    return pattern


def main(resolve, server=None, model=None, strength=1.0, log=print, cancelled=None):
    """Run the whole job on the current timeline clip; returns the new TimelineItem, or None (message
    logged)."""
    project = resolve.GetProjectManager().GetCurrentProject()
    timeline = project.GetCurrentTimeline() if project else None
    item = timeline.GetCurrentVideoItem() if timeline else None
    if item is None:
        log("[vh] error: put the playhead over the clip to harmonize on the current timeline")
        return None
    folder = settings.work_dir("vh-resolve-")
    try:
        config, space = colour.ocio_settings(project)
        log("[vh] rendering %s to EXR..." % item.GetName())
        pattern = as_sequence(render_item(project, item, folder), folder)
        count = int(item.GetEnd()) - int(item.GetStart())
        job = dict(
            server=server or settings.server(),
            plate=pattern,
            first=1,
            last=count,
            model=model if model is not None else settings.model(),
            strength=strength,
            colorspace=space,
            ocio_config=config,
            client_name="Resolve / vh_resolve",
            require_matte=True,
        )  # the clip's alpha is the matte: refuse an opaque one
        result = vh_outproc.run_job(
            job, settings.cache_root(), progress=lambda d, t, m: log("[vh] %s" % m), cancelled=cancelled
        )
    except vh_outproc.JobCancelled:
        log("[vh] cancelled: no result kept")
        return None
    except (TimelineScriptError, vh_outproc.JobError, ValueError) as exc:
        log("[vh] error: %s" % exc)
        return None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return place_above(project, timeline, item, result, count)


def place_above(project, timeline, item, result_pattern, count):
    """Import the result as an image sequence and append it on a new video track at the clip's record
    frame."""
    media_pool = project.GetMediaPool()
    imported = media_pool.ImportMedia([{"FilePath": result_pattern, "StartIndex": 1, "EndIndex": count}])
    if not imported:
        raise TimelineScriptError("Resolve could not import %s" % result_pattern)
    timeline.AddTrack("video")
    track = timeline.GetTrackCount("video")
    placed = media_pool.AppendToTimeline(
        [
            {
                "mediaPoolItem": imported[0],
                "startFrame": 0,
                "endFrame": count - 1,
                "trackIndex": track,
                "recordFrame": int(item.GetStart()),
            }
        ]
    )
    return placed[0] if placed else None
