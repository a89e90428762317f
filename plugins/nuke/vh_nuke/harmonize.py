"""The Harmonize button: render inputs, run the job out of process from a worker thread, show the result.

1. On the main thread: render the frame range of the plate (and the matte input, if connected) to EXR with
   temporary Write nodes in `raw` mode, i.e. in the script's working space.
2. On a worker thread: run the job in the configured vh installation's Python (`vh_outproc.run_job`: no gRPC
   or protobuf in Nuke's Python); its progress lines drive a `nuke.ProgressTask`, whose Cancel stops the job
   cleanly. Results land in a cache keyed by the inputs' pixels and all settings; a rerun with nothing changed
   skips the server.
3. Back on the main thread (`nuke.executeInMainThread`): point the internal Read at the results and switch the
   node's output to them. The worker never touches a node itself.

Standard library only, Python 3.9+ (Nuke 14-17).
"""

import os
import shutil
import tempfile
import threading
import time
from typing import Dict, Optional

import nuke
import vh_outproc

from vh_nuke import colour, deps
from vh_nuke.node import option_values, set_status

_running: Dict[str, threading.Event] = {}  # node name -> cancel flag of its running job


def cache_root() -> str:
    return vh_outproc.default_cache_root("nuke")


def _render(node, input_index: int, folder: str, name: str, first: int, last: int) -> str:
    """Render input `input_index` of `node` to `folder/name.%04d.exr` (32-bit float, raw); returns the
    pattern."""
    pattern = os.path.join(folder, name + ".%04d.exr")
    with nuke.root():
        write = nuke.nodes.Write(
            file=pattern.replace(os.sep, "/"),
            file_type="exr",
            datatype="32 bit float",
            compression="Zip (1 scanline)",
            channels="rgba",
            raw=True,
        )
        try:
            write.setInput(0, node.input(input_index))
            nuke.execute(write, first, last)
        finally:
            nuke.delete(write)
    return pattern


def job_for(node, plate: str, matte: Optional[str]) -> Dict:
    """The job (vh.client.host_job.HostJob's fields) that the node's knobs and the script's colour
    describe."""
    config, space = colour.ocio_settings(nuke.root())
    return dict(
        server=node["server"].value(),
        plate=plate,
        matte=matte,
        first=int(node["first"].value()),
        last=int(node["last"].value()),
        model=node["model"].value(),
        options=option_values(node),
        strength=float(node["strength"].value()),
        colorspace=space,
        ocio_config=config,
        client_name=f"Nuke {nuke.NUKE_VERSION_STRING} / vh_nuke",
        export_cube=_as_ocio(node),
    )


def _as_ocio(node) -> bool:
    knob = node.knob("apply_as_ocio")  # absent on nodes saved before the option existed
    return bool(knob.value()) if knob is not None else False


def start(node) -> Optional[threading.Thread]:
    """Button callback (main thread). Returns the worker thread, or None when nothing needed one."""
    if node.name() in _running:
        set_status(node, "already harmonizing: press Cancel first")
        return None
    problem = deps.problem()
    if problem:
        set_status(node, problem)
        return None
    first, last = int(node["first"].value()), int(node["last"].value())
    if node.input(0) is None:
        set_status(node, "connect a plate to input 0")
        return None
    if last < first:
        set_status(node, f"frame range {first}-{last} is empty")
        return None
    try:
        colour.ocio_settings(nuke.root())
    except ValueError as exc:
        set_status(node, str(exc))
        return None
    folder = tempfile.mkdtemp(prefix="vh-nuke-")
    try:
        set_status(node, f"rendering frames {first}-{last}...")
        plate = _render(node, 0, folder, "plate", first, last)
        matte = _render(node, 1, folder, "matte", first, last) if node.input(1) is not None else None
    except Exception as exc:  # a failed render is the user's to fix; show it on the node
        shutil.rmtree(folder, ignore_errors=True)
        set_status(node, f"render failed: {exc}")
        return None
    job = job_for(node, plate, matte)
    cancel = threading.Event()
    _running[node.name()] = cancel
    worker = threading.Thread(
        target=_work, args=(node, job, folder, cancel), name=f"vh-{node.name()}", daemon=True
    )
    set_status(node, f"sending frames {first}-{last} to {job['server']}...")
    worker.start()
    return worker


def cancel(node) -> None:
    flag = _running.get(node.name())
    if flag is not None:
        flag.set()


def _work(node, job: Dict, folder: str, cancel_flag: threading.Event) -> None:
    task = nuke.ProgressTask(f"VHMAE Harmonize: {node.name()}")
    started = time.monotonic()

    def progress(done: int, total: int, message: str) -> None:
        task.setProgress(int(100 * done / max(total, 1)))
        task.setMessage(message)

    def cancelled() -> bool:
        return cancel_flag.is_set() or task.isCancelled()

    outcome: Dict = {}
    try:
        result = vh_outproc.run_job(
            job, cache_root(), progress=progress, cancelled=cancelled, outcome=outcome
        )
    except vh_outproc.JobError as exc:
        stopped = isinstance(exc, vh_outproc.JobCancelled) or cancelled()
        message = "cancelled: no result kept" if stopped else f"error: {exc}"
        nuke.executeInMainThread(_finish, args=(node, None, job, message))
    except Exception as exc:  # never let a worker die silently: the node must say what happened
        nuke.executeInMainThread(
            _finish, args=(node, None, job, f"error: unexpected {type(exc).__name__}: {exc}")
        )
    else:
        seconds = time.monotonic() - started
        message = (
            f"harmonized frames {job['first']}-{job['last']} with {job['model'] or 'the default model'} "
            f"in {seconds:.1f} s"
        )
        if job.get("export_cube") and outcome.get("cube"):
            nuke.executeInMainThread(_finish_as_ocio, args=(node, outcome["cube"], message))
        else:
            nuke.executeInMainThread(_finish, args=(node, result, job, message))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _finish(node, result: Optional[str], job: Dict, message: str) -> None:
    """Main thread: show the result (or keep the pass-through) and the status line."""
    _running.pop(node.name(), None)
    if result is not None:
        with node:
            read = nuke.toNode("results")
            switch = nuke.toNode("use_results")
        read["file"].setValue(result.replace(os.sep, "/"))
        read["first"].setValue(job["first"])
        read["last"].setValue(job["last"])
        read["raw"].setValue(True)
        switch["which"].setValue(1)
    set_status(node, message)


def lut_node_name(node) -> str:
    return node.name() + "_OCIOFileTransform"


def _finish_as_ocio(node, cube: str, message: str) -> None:
    """Main thread: a native OCIOFileTransform beside the node (made once, updated on reruns), fed by the
    plate and masked by the matte (the matte input's alpha, else the plate's), applying the shot's LUT in the
    working space. The node itself keeps passing the plate through: the artist keeps the native node, not
    baked pixels."""
    _running.pop(node.name(), None)
    working = nuke.root()["workingSpaceLUT"].value() or "scene_linear"
    with nuke.root():
        lut = nuke.toNode(lut_node_name(node))
        if lut is None:
            lut = nuke.nodes.OCIOFileTransform()
            lut.setName(lut_node_name(node))
        lut["file"].setValue(cube.replace(os.sep, "/"))
        lut["working_space"].setValue(working)
        lut.setInput(0, node.input(0))
        if node.input(1) is not None:
            lut.setInput(1, node.input(1))
            lut["maskChannelMask"].setValue("rgba.alpha")
            lut["maskChannelInput"].setValue("none")
        else:
            lut.setInput(1, None)
            lut["maskChannelMask"].setValue("none")
            lut["maskChannelInput"].setValue("rgba.alpha")
    with node:
        nuke.toNode("use_results")["which"].setValue(0)
    set_status(node, f"{message}, as {lut.name()} ({os.path.basename(cube)})")
