"""A faithful fake of exactly the DaVinci Resolve and Fusion scripting calls that plugins/resolve makes.

Resolve objects (Resolve, ProjectManager, Project, Timeline, TimelineItem, MediaPool, MediaPoolItem) follow
Resolve's scripting README; their names and parameters are checked against `fusionscript-stubs` in
tests/plugins/test_fakes.py. Fusion objects (Composition, Tool, Input, Output) follow the Fusion 8 Scripting
Guide (Composition.AddTool/GetToolList/Render/AskUser/Lock/Unlock/StartUndo/EndUndo, Operator.SetInput/
ConnectInput/Delete/GetAttrs/SetAttrs, Output.GetConnectedInputs, Input.ConnectTo), which the stubs lack.

Every call is recorded in `calls` as (object, method, args) for tests to assert on. Rendering is real: Savers
and render jobs read their source frames with OpenImageIO and write float EXR files, named as the hosts name
them (Fusion: the frame number, 4 digits, before the extension of the Saver's Clip; Resolve:
CustomName_<8-digit frame>.exr in TargetDir)."""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

calls: list[tuple[str, str, tuple]] = []


def _record(obj: Any, method: str, *args: Any) -> None:
    calls.append((type(obj).__name__, method, args))


def _sequence_path(clip: str, frame: int) -> str:
    """A Loader/MediaIn Clip names one file of a numbered sequence; the frame replaces its trailing number."""
    if "%" in clip:
        return clip % frame
    m = re.search(r"(\d+)(\.\w+)$", clip)
    return clip[: m.start(1)] + f"{frame:0{len(m.group(1))}d}" + m.group(2) if m else clip


def _read(path: str) -> np.ndarray:
    from vh.core.io import read_image

    pixels = read_image(path)
    if pixels.shape[-1] == 3:  # Fusion/Resolve images always carry alpha (opaque when the file has none)
        pixels = np.concatenate([pixels, np.ones_like(pixels[..., :1])], axis=-1)
    return pixels


def _write(path: str, pixels: np.ndarray) -> None:
    """Float EXR, uncompressed: what the fakes' Savers and render jobs are set to produce."""
    from vh.core.io import write_image

    write_image(path, pixels, pixel_type="float", compression="none")


# ------------------------------------------------------------------------------------------------------
# Fusion
class Output:
    def __init__(self, tool: Tool) -> None:
        self.tool = tool

    def GetConnectedInputs(self) -> dict[int, Input]:
        _record(self, "GetConnectedInputs")
        connected = [i for t in self.tool.comp.tools for i in t.inputs.values() if i.source is self]
        return {n + 1: i for n, i in enumerate(connected)}


class Input:
    def __init__(self, tool: Tool, name: str) -> None:
        self.tool, self.name, self.source = tool, name, None

    def ConnectTo(self, out: Output | None) -> bool:
        _record(self, "ConnectTo", out.tool.name if out else None)
        self.source = out
        return True


class Tool:
    def __init__(self, comp: Composition, reg_id: str, name: str) -> None:
        self.comp, self.reg_id, self.name = comp, reg_id, name
        self.values: dict[str, Any] = {}
        self.attrs: dict[str, Any] = {"TOOLB_PassThrough": False}
        self.inputs: dict[str, Input] = {}
        self.Output = Output(self)
        self.deleted = False

    def GetAttrs(self) -> dict[str, Any]:
        return {"TOOLS_RegID": self.reg_id, "TOOLS_Name": self.name, **self.attrs}

    def SetAttrs(self, attrs: dict[str, Any]) -> None:
        _record(self, "SetAttrs", dict(attrs))
        if "TOOLS_Name" in attrs:
            self.name = attrs["TOOLS_Name"]
        self.attrs.update({k: v for k, v in attrs.items() if k != "TOOLS_Name"})

    def SetInput(self, name: str, value: Any, time: float | None = None) -> None:
        _record(self, "SetInput", name, value)
        self.values[name] = value

    def GetInput(self, name: str, time: float | None = None) -> Any:
        return self.values.get(name)

    def ConnectInput(self, name: str, target: Tool | Output | None) -> bool:
        _record(self, "ConnectInput", name, getattr(target, "name", None))
        out = target.Output if isinstance(target, Tool) else target
        self.inputs.setdefault(name, Input(self, name)).source = out
        return True

    def Delete(self) -> None:
        _record(self, "Delete")
        self.deleted = True
        self.comp.tools.remove(self)

    def render(self, frame: int) -> np.ndarray:
        if self.reg_id in ("Loader", "MediaIn"):
            return _read(_sequence_path(self.values["Clip"], frame))
        src = self.inputs.get("Input")
        if src is None or src.source is None:
            raise RuntimeError(f"{self.name} has nothing connected")
        return src.source.tool.render(frame)


class Composition:
    def __init__(self, render_start: int, render_end: int, ask_user: dict | None = None) -> None:
        self.tools: list[Tool] = []
        self.selected: list[Tool] = []
        self.render_range = (render_start, render_end)
        self.ask_user_answer = ask_user
        self.locked = 0
        self.undo_open = False

    def add_existing(self, reg_id: str, name: str, **values: Any) -> Tool:
        """Fake-only: a tool the user already has in the comp."""
        tool = Tool(self, reg_id, name)
        tool.values.update(values)
        self.tools.append(tool)
        return tool

    def AddTool(self, id: str, xpos: int = -32768, ypos: int = -32768) -> Tool:
        _record(self, "AddTool", id)
        count = sum(1 for t in self.tools if t.reg_id == id) + 1
        tool = Tool(self, id, f"{id}{count}")
        self.tools.append(tool)
        return tool

    def GetToolList(self, selected: bool = False, regid: str | None = None) -> dict[int, Tool]:
        tools = self.selected if selected else self.tools
        tools = [t for t in tools if regid is None or t.reg_id == regid]
        return {i + 1: t for i, t in enumerate(tools)}

    def GetAttrs(self) -> dict[str, Any]:
        return {
            "COMPN_RenderStart": float(self.render_range[0]),
            "COMPN_RenderEnd": float(self.render_range[1]),
        }

    def Render(self, args: dict[str, Any]) -> bool:
        _record(self, "Render", dict(args))
        for saver in [t for t in self.tools if t.reg_id == "Saver" and not t.attrs.get("TOOLB_PassThrough")]:
            clip = saver.values["Clip"]
            stem, ext = os.path.splitext(clip)
            for frame in range(int(args["Start"]), int(args["End"]) + 1):
                _write(f"{stem}{frame:04d}{ext}", saver.render(frame))
        return True

    def AskUser(self, title: str, controls: dict) -> dict | None:
        _record(self, "AskUser", title)
        if self.ask_user_answer is None:
            return None
        return {c[1]: self.ask_user_answer.get(c[1], c.get("Default")) for c in controls.values()}

    def Lock(self) -> None:
        self.locked += 1

    def Unlock(self) -> None:
        self.locked -= 1

    def StartUndo(self, name: str) -> None:
        self.undo_open = True

    def EndUndo(self, keep: bool) -> None:
        self.undo_open = False


# ------------------------------------------------------------------------------------------------------
# Resolve
class MediaPoolItem:
    def __init__(self, file_path: str, first: int, last: int, name: str) -> None:
        self.file_path, self.first, self.last, self.name = file_path, first, last, name

    def GetClipProperty(self, propertyName: str | None = None) -> str | dict:
        props = {
            "File Path": self.file_path,
            "Clip Name": self.name,
            "Start": str(self.first),
            "End": str(self.last),
        }
        return props if propertyName is None else props.get(propertyName, "")

    def GetName(self) -> str:
        return self.name


class TimelineItem:
    def __init__(self, media: MediaPoolItem, start: int, track: int) -> None:
        self.media, self.start, self.track = media, start, track

    def GetName(self) -> str:
        return self.media.name

    def GetStart(self, subframe_precision: bool = False) -> int:
        return self.start

    def GetEnd(self, subframe_precision: bool = False) -> int:
        return self.start + (self.media.last - self.media.first + 1)

    def GetMediaPoolItem(self) -> MediaPoolItem:
        return self.media


class Timeline:
    def __init__(self, current: TimelineItem | None) -> None:
        self.current = current
        self.tracks = {"video": 1, "audio": 1, "subtitle": 0}
        self.items: list[TimelineItem] = [current] if current else []

    def GetCurrentVideoItem(self) -> TimelineItem | None:
        return self.current

    def AddTrack(self, trackType: str, subTrackType: str | None = None) -> bool:
        _record(self, "AddTrack", trackType)
        self.tracks[trackType] += 1
        return True

    def GetTrackCount(self, trackType: str) -> int:
        return self.tracks[trackType]


class MediaPool:
    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.items: list[MediaPoolItem] = []

    def ImportMedia(self, items: list) -> list[MediaPoolItem]:
        _record(self, "ImportMedia", items)
        imported = []
        for info in items:
            path = info["FilePath"]
            if not os.path.exists(path % info["StartIndex"]) or not os.path.exists(path % info["EndIndex"]):
                return []  # Resolve imports nothing it cannot find
            imported.append(MediaPoolItem(path, info["StartIndex"], info["EndIndex"], os.path.basename(path)))
        self.items += imported
        return imported

    def AppendToTimeline(self, clips: list) -> list[TimelineItem]:
        _record(self, "AppendToTimeline", clips)
        placed = [TimelineItem(c["mediaPoolItem"], c["recordFrame"], c["trackIndex"]) for c in clips]
        self.timeline.items += placed
        return placed


class Project:
    def __init__(self, timeline: Timeline, settings: dict[str, str]) -> None:
        self.timeline = timeline
        self.media_pool = MediaPool(timeline)
        self.settings = settings
        self.render_settings: dict[str, Any] = {}
        self.format_codec: tuple[str, str] | None = None
        self.jobs: dict[str, str] = {}

    def GetCurrentTimeline(self) -> Timeline:
        return self.timeline

    def GetMediaPool(self) -> MediaPool:
        return self.media_pool

    def GetSetting(self, settingName: str) -> str:
        return self.settings.get(settingName, "")

    def SetCurrentRenderFormatAndCodec(self, format: str, codec: str) -> bool:
        _record(self, "SetCurrentRenderFormatAndCodec", format, codec)
        self.format_codec = (format, codec)
        return (format, codec) in (("exr", "RGBFloat"), ("exr", "RGBHalf"))

    def SetRenderSettings(self, settings: dict) -> bool:
        _record(self, "SetRenderSettings", dict(settings))
        self.render_settings.update(settings)
        return True

    def AddRenderJob(self) -> str:
        job_id = f"job-{len(self.jobs) + 1}"
        self.jobs[job_id] = "Ready"
        return job_id

    def StartRendering(self, jobIds: list[str], isInteractiveMode: bool = False) -> bool:
        _record(self, "StartRendering", list(jobIds))
        s = self.render_settings
        item = self.timeline.current
        for job_id in jobIds:
            for record in range(s["MarkIn"], s["MarkOut"] + 1):
                source = item.media.first + (record - item.start)
                pixels = _read(item.media.file_path % source)
                if not s.get("ExportAlpha"):
                    pixels = pixels[..., :3]
                _write(os.path.join(s["TargetDir"], f"{s['CustomName']}_{86400 + record:08d}.exr"), pixels)
            self.jobs[job_id] = "Complete"
        return True

    def IsRenderingInProgress(self) -> bool:
        return False

    def GetRenderJobStatus(self, jobId: str) -> dict[str, Any]:
        return {"JobStatus": self.jobs.get(jobId, "Failed"), "CompletionPercentage": 100}

    def DeleteRenderJob(self, jobId: str) -> bool:
        return self.jobs.pop(jobId, None) is not None


class ProjectManager:
    def __init__(self, project: Project) -> None:
        self.project = project

    def GetCurrentProject(self) -> Project:
        return self.project


class Resolve:
    def __init__(self, project: Project) -> None:
        self.project_manager = ProjectManager(project)

    def GetProjectManager(self) -> ProjectManager:
        return self.project_manager
