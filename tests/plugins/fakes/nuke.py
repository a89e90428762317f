"""A faithful fake of exactly the part of Nuke's Python API that plugins/nuke calls.

Names and signatures follow Foundry's Python API reference (checked against the `types-nuke` stubs by
tests/plugins/test_fakes.py). Behaviour is the documented one, reduced to what the plugin relies on:

- `createNode("VHMAE_Harmonize")` finds `VHMAE_Harmonize.gizmo` on the plugin path, parses it with a real .nk
  parser (nkparser), creates the Gizmo's user knobs from its `addUserKnob` lines and its internal nodes, and
  runs its onCreate callback, as Nuke does.
- `execute(write, first, last)` renders a Write's upstream Read through OpenImageIO to the Write's `file`,
  with its `datatype`, `compression` and `channels` knobs ("raw" data: no colour conversion).
- `executeInMainThread(call, args, kwargs)` queues the call; `process_main_thread()` (fake-only, for tests)
  runs the queue, standing in for Nuke's event loop.
- `ProgressTask` records its messages and progress; tests cancel it with `cancel()` (fake-only), standing in
  for the user pressing Cancel in the progress dialog.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

GUI = False
env: dict[str, Any] = {
    "gui": False,
    "NukeVersionMajor": 15,
    "NukeVersionMinor": 1,
    "NukeVersionString": "15.1v3",
}
NUKE_VERSION_STRING = "15.1v3"
NUKE_VERSION_MAJOR = 15

STARTLINE = 0x1000
INVISIBLE = 0x400

_plugin_paths: list[str] = []
_main_queue: queue.Queue[tuple[Callable, tuple, dict]] = queue.Queue()
_this_node: list[Node] = []
_this_knob: list[Knob] = []
_messages: list[str] = []
_progress_tasks: list[ProgressTask] = []
_menus: dict[str, Menu] = {}


# ----------------------------------------------------------------------------------------------------- knobs
class Knob:
    def __init__(self, name: str, label: str | None = None, *args: Any) -> None:
        self._name, self._label = name, label if label is not None else name
        self._value: Any = None
        self._flags = 0
        self._visible = True
        self._enabled = True
        self._node: Node | None = None
        self._tooltip = ""

    def name(self) -> str:
        return self._name

    def label(self) -> str:
        return self._label

    def value(self) -> Any:
        return self._value

    def getValue(self, *args: Any, **kwargs: Any) -> Any:
        return self._value

    def setValue(self, val: Any, *args: Any) -> bool:
        self._value = val
        if self._node is not None:
            self._node._knob_changed(self)
        return True

    def setFlag(self, flag: int) -> None:
        self._flags |= flag

    def clearFlag(self, flag: int) -> None:
        self._flags &= ~flag

    def setVisible(self, visible: bool) -> None:
        self._visible = bool(visible)

    def setEnabled(self, enabled: bool) -> None:
        self._enabled = bool(enabled)

    def setTooltip(self, tooltip: str) -> None:
        self._tooltip = tooltip

    def tooltip(self) -> str:
        return self._tooltip

    def node(self) -> Node | None:
        return self._node


class Tab_Knob(Knob):
    pass


class String_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, text: str = "") -> None:
        super().__init__(name, label)
        self._value = text

    def getText(self, oc: Any = None) -> str:
        return str(self._value)


class File_Knob(String_Knob):
    pass


class Text_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, text: str = "") -> None:
        super().__init__(name, label)
        self._value = text


class Int_Knob(Knob):
    def __init__(self, name: str, label: str | None = None) -> None:
        super().__init__(name, label)
        self._value = 0

    def setValue(self, val: Any, *args: Any) -> bool:
        return super().setValue(int(val))


class Double_Knob(Knob):
    def __init__(self, name: str, label: str | None = None) -> None:
        super().__init__(name, label)
        self._value = 0.0
        self._range = (0.0, 1.0)

    def setValue(self, val: Any, *args: Any) -> bool:
        return super().setValue(float(val))

    def setRange(self, minimum: float, maximum: float) -> None:
        self._range = (float(minimum), float(maximum))


class Boolean_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, value: bool = False) -> None:
        super().__init__(name, label)
        self._value = bool(value)

    def setValue(self, b: Any) -> bool:
        return super().setValue(bool(b))


class Enumeration_Knob(Knob):
    def __init__(self, name: str, label: str | None, values: list[str]) -> None:
        super().__init__(name, label)
        self._values = list(values)
        self._value = self._values[0] if self._values else ""

    def values(self) -> list[str]:
        return list(self._values)

    def setValues(self, items: list[str]) -> None:
        self._values = list(items)
        if self._value not in self._values:
            self._value = self._values[0] if self._values else ""

    def setValue(self, val: Any, *args: Any) -> bool:
        if isinstance(val, int):
            val = self._values[val]
        if val not in self._values:
            raise ValueError(f"Enumeration_Knob {self._name}: {val!r} is not one of {self._values}")
        return super().setValue(val)

    def numValues(self) -> int:
        return len(self._values)

    def enumName(self, n: int) -> str:
        return self._values[n]


class PyScript_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, command: str = "") -> None:
        super().__init__(name, label)
        self._value = command

    def execute(self) -> None:
        """Run the button's script with nuke.thisNode()/thisKnob() set, as pressing it in the panel does."""
        _run_callback(self._node, self, self._value)


# ----------------------------------------------------------------------------------------------------- nodes
class Node:
    _counter: dict[str, int] = {}

    def __init__(self, node_class: str, name: str | None = None, parent: Group | None = None) -> None:
        self._class = node_class
        Node._counter[node_class] = Node._counter.get(node_class, 0) + 1
        self._name = name or f"{node_class}{Node._counter[node_class]}"
        self._knobs: dict[str, Knob] = {}
        self._inputs: list[Node | None] = []
        self._parent = parent
        self._callbacks: dict[str, str] = {}
        self._deleted = False
        if parent is not None:
            parent._children.append(self)
        for knob in _default_knobs(node_class):
            self.addKnob(knob)

    def Class(self) -> str:
        return self._class

    def name(self) -> str:
        return self._name

    def setName(self, name: str) -> None:
        self._name = name

    def fullName(self) -> str:
        return self._name

    def knob(self, p: str | int) -> Knob | None:
        return self._knobs.get(p) if isinstance(p, str) else list(self._knobs.values())[p]

    def knobs(self) -> dict[str, Knob]:
        return dict(self._knobs)

    def __getitem__(self, name: str) -> Knob:
        return self._knobs[name]

    def addKnob(self, knob: Knob) -> None:
        knob._node = self
        self._knobs[knob.name()] = knob

    def removeKnob(self, knob: Knob) -> None:
        self._knobs.pop(knob.name(), None)
        knob._node = None

    def input(self, index: int) -> Node | None:
        return self._inputs[index] if index < len(self._inputs) else None

    def setInput(self, i: int, node: Node | None) -> bool:
        while len(self._inputs) <= i:
            self._inputs.append(None)
        self._inputs[i] = node
        return True

    def inputs(self) -> int:
        return sum(1 for n in self._inputs if n is not None)

    def maxInputs(self) -> int:
        return len(self._inputs)

    def _knob_changed(self, knob: Knob) -> None:
        script = self._callbacks.get("knobChanged")
        if script:
            _run_callback(self, knob, script)

    # rendering (fake-only): the pixels this node produces at `frame`, or None when it has no image
    def _render(self, frame: int) -> np.ndarray | None:
        return self.input(0)._render(frame) if self.input(0) is not None else None


class Group(Node):
    def __init__(
        self, node_class: str = "Group", name: str | None = None, parent: Group | None = None
    ) -> None:
        self._children: list[Node] = []
        super().__init__(node_class, name, parent)

    def begin(self) -> Group:
        _context.append(self)
        return self

    def end(self) -> None:
        if _context and _context[-1] is self:
            _context.pop()

    def __enter__(self) -> Group:
        return self.begin()

    def __exit__(self, *exc: object) -> None:
        self.end()

    def node(self, s: str) -> Node | None:
        return next((n for n in self._children if n.name() == s and not n._deleted), None)

    def nodes(self) -> list[Node]:
        return [n for n in self._children if not n._deleted]

    def _render(self, frame: int) -> np.ndarray | None:
        out = next((n for n in self._children if n.Class() == "Output"), None)
        return out._render(frame) if out is not None else None


class Gizmo(Group):
    pass


class Root(Group):
    def __init__(self) -> None:
        super().__init__("Root", "root")
        for knob, value in (
            ("colorManagement", "Nuke"),
            ("OCIO_config", "nuke-default"),
            ("customOCIOConfigPath", ""),
            ("workingSpaceLUT", "linear"),
            ("first_frame", 1),
            ("last_frame", 100),
        ):
            k = String_Knob(knob) if isinstance(value, str) else Int_Knob(knob)
            k._value = value
            self.addKnob(k)


class Input(Node):
    """Inside a group, an Input renders whatever is connected to the group's matching input."""

    def _render(self, frame: int) -> np.ndarray | None:
        number = int(self["number"].value()) if self.knob("number") else 0
        upstream = self._parent.input(number) if self._parent is not None else None
        return upstream._render(frame) if upstream is not None else None


class Read(Node):
    def _render(self, frame: int) -> np.ndarray | None:
        pattern = self["file"].value()
        if not pattern:
            return None
        path = _frame_path(pattern, frame)
        if not os.path.exists(path):
            return (
                None  # on_error black: the real node would show black or an error; the plugin never reads it
            )
        return _oiio_read(path)


class Switch(Node):
    def _render(self, frame: int) -> np.ndarray | None:
        which = int(self["which"].value())
        src = self.input(which)
        return src._render(frame) if src is not None else None


class Write(Node):
    def _write(self, frame: int) -> None:
        pixels = self._render(frame)
        if pixels is None:
            raise RuntimeError(f"{self.name()}: input has no image at frame {frame}")
        channels = self["channels"].value()
        if channels == "alpha":
            pixels = pixels[..., 3:4] if pixels.shape[-1] > 3 else np.zeros_like(pixels[..., :1])
        elif channels == "rgb":
            pixels = pixels[..., :3]
        _oiio_write(
            _frame_path(self["file"].value(), frame),
            pixels,
            self["datatype"].value(),
            self["compression"].value(),
        )


class _OCIOFileTransform(Node):
    """Applies its `file` (a .cube or .cc) with OCIO, as Nuke's node does, where the mask says: the mask
    input's alpha (`maskChannelMask` rgba.alpha) or the source's own (`maskChannelInput` rgba.alpha), else
    everywhere. Only a `working_space` equal to the script's working space is modelled (no conversion around
    the file)."""

    def _render(self, frame: int) -> np.ndarray | None:
        src = self.input(0)._render(frame) if self.input(0) is not None else None
        if src is None:
            return None
        if self["working_space"].value() != _root["workingSpaceLUT"].value():
            raise NotImplementedError("the fake applies the file in the script's working space only")
        import PyOpenColorIO as ocio

        transform = ocio.FileTransform(src=self["file"].value(), interpolation=ocio.INTERP_TETRAHEDRAL)
        cpu = ocio.Config.CreateRaw().getProcessor(transform).getDefaultCPUProcessor()
        rgb = np.ascontiguousarray(src[..., :3], np.float32).copy()
        cpu.applyRGB(rgb)
        if self["maskChannelMask"].value() == "rgba.alpha" and self.input(1) is not None:
            m = self.input(1)._render(
                frame
            )  # a one-channel image reads as that channel (as the job reads it)
            mask = m[..., 3] if m.shape[-1] >= 4 else m[..., 0]
        elif self["maskChannelInput"].value() == "rgba.alpha":
            mask = src[..., 3]
        else:
            mask = np.ones(src.shape[:2], np.float32)
        out = src.copy()
        out[..., :3] = src[..., :3] * (1 - mask[..., None]) + rgb * mask[..., None]
        return out


_NODE_TYPES: dict[str, type[Node]] = {
    "Input": Input,
    "Read": Read,
    "Switch": Switch,
    "Write": Write,
    "Group": Group,
    "OCIOFileTransform": _OCIOFileTransform,
}

_KNOB_DEFAULTS: dict[str, list[tuple[str, type[Knob], Any]]] = {
    "Read": [
        ("file", File_Knob, ""),
        ("first", Int_Knob, 1),
        ("last", Int_Knob, 1),
        ("raw", Boolean_Knob, False),
        ("on_error", String_Knob, "error"),
        ("reload", PyScript_Knob, ""),
    ],
    "Write": [
        ("file", File_Knob, ""),
        ("file_type", String_Knob, ""),
        ("datatype", String_Knob, "16 bit half"),
        ("compression", String_Knob, "Zip (1 scanline)"),
        ("channels", String_Knob, "rgb"),
        ("raw", Boolean_Knob, False),
        ("create_directories", Boolean_Knob, False),
    ],
    "Switch": [("which", Int_Knob, 0)],
    "Input": [("number", Int_Knob, 0)],
    "OCIOFileTransform": [
        ("file", File_Knob, ""),
        ("working_space", String_Knob, "scene_linear"),
        ("maskChannelMask", String_Knob, "none"),
        ("maskChannelInput", String_Knob, "none"),
    ],
}


def _default_knobs(node_class: str) -> list[Knob]:
    knobs = []
    for name, cls, value in _KNOB_DEFAULTS.get(node_class, []):
        k = cls(name)
        k._value = value
        knobs.append(k)
    return knobs


_root = Root()
_context: list[Group] = []


def _current_group() -> Group:
    return _context[-1] if _context else _root


# ----------------------------------------------------------------------------------------------------- module
# API
def root() -> Root:
    return _root


def createNode(typ: str, knobs: str = "", inpanel: bool = True) -> Node:
    gizmo = _find_on_plugin_path(f"{typ}.gizmo")
    node = _load_gizmo(typ, gizmo) if gizmo else _NODE_TYPES.get(typ, Node)(typ, parent=_current_group())
    if knobs:
        for name, value in zip(*[iter(shlex.split(knobs))] * 2):
            node[name].setValue(value)
    return node


class _NodesFactory:
    """`nuke.nodes.Write(file=..., channels=...)`: create a node without the UI defaults."""

    def __getattr__(self, node_class: str) -> Callable[..., Node]:
        def make(**knobs: Any) -> Node:
            node = _NODE_TYPES.get(node_class, Node)(node_class, parent=_current_group())
            for name, value in knobs.items():
                node[name].setValue(value)
            return node

        return make


nodes = _NodesFactory()


def toNode(s: str) -> Node | None:
    return _current_group().node(s) or _root.node(s)


def allNodes(*args: Any, **kwargs: Any) -> list[Node]:
    return _current_group().nodes()


def delete(n: Node | None) -> None:
    if n is None:
        return
    n._deleted = True


def thisNode() -> Node:
    return _this_node[-1]


def thisKnob() -> Knob:
    return _this_knob[-1]


def execute(
    nameOrNode: Node | str,
    start: int,
    end: int,
    incr: int = 1,
    views: list[str] | None = None,
    continueOnError: bool = False,
) -> None:
    node = toNode(nameOrNode) if isinstance(nameOrNode, str) else nameOrNode
    if node is None or node.Class() != "Write":
        raise RuntimeError(f"{nameOrNode}: not a Write node")
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("nuke.execute must be called from the main thread")
    for frame in range(int(start), int(end) + 1, int(incr)):
        node._write(frame)


def executeInMainThread(call: Callable, args: tuple = (), kwargs: dict | None = None) -> None:
    _main_queue.put((call, tuple(args) if isinstance(args, (tuple, list)) else (args,), kwargs or {}))


def executeInMainThreadWithResult(call: Callable, args: tuple = (), kwargs: dict | None = None) -> Any:
    done = threading.Event()
    box: list[Any] = []
    executeInMainThread(lambda: (box.append(call(*args, **(kwargs or {}))), done.set()))
    done.wait()
    return box[0]


def message(prompt: str) -> None:
    _messages.append(prompt)


def tprint(*args: Any, sep: str = " ", end: str = "\n", file: Any = None) -> None:
    _messages.append(sep.join(str(a) for a in args))


def warning(message: str) -> None:
    _messages.append(f"WARNING: {message}")


def critical(message: str) -> None:
    _messages.append(f"CRITICAL: {message}")


def pluginAddPath(args: str, addToSysPath: bool = True) -> None:
    import sys

    _plugin_paths.insert(0, args)
    if addToSysPath and args not in sys.path:
        sys.path.insert(0, args)


def pluginPath() -> list[str]:
    return list(_plugin_paths)


class ProgressTask:
    def __init__(self, title: str) -> None:
        self.title = title
        self.messages: list[str] = []
        self.progress: list[int] = []
        self._cancelled = threading.Event()
        _progress_tasks.append(self)

    def setMessage(self, message: str) -> None:
        self.messages.append(message)

    def setProgress(self, progress: int) -> None:
        self.progress.append(int(progress))

    def isCancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:  # fake-only: the user presses Cancel
        self._cancelled.set()


class Menu:
    def __init__(self, name: str) -> None:
        self.name = name
        self.items: dict[str, Any] = {}

    def addMenu(self, name: str, icon: str = "", index: int = -1) -> Menu:
        return self.items.setdefault(name, Menu(name))

    def addCommand(
        self,
        name: str,
        command: Any = None,
        shortcut: str = "",
        icon: str = "",
        tooltip: str = "",
        index: int = -1,
        readonly: bool = False,
    ) -> None:
        self.items[name] = command

    def findItem(self, name: str) -> Any:
        return self.items.get(name)


def menu(name: str) -> Menu:
    return _menus.setdefault(name, Menu(name))


def toolbar(name: str) -> Menu:
    return menu(name)


# -----------------------------------------------------------------------------------------------------
# fake-only
def process_main_thread(timeout: float = 0.0) -> int:
    """Run queued executeInMainThread calls (what Nuke's event loop does); returns how many ran."""
    ran = 0
    while True:
        try:
            call, args, kwargs = (
                _main_queue.get(timeout=timeout) if timeout and not ran else _main_queue.get_nowait()
            )
        except queue.Empty:
            return ran
        call(*args, **kwargs)
        ran += 1


def reset() -> None:
    """Fresh session: new root, empty queues (tests call this between cases)."""
    global _root
    _root = Root()
    _context.clear()
    _messages.clear()
    _progress_tasks.clear()
    _menus.clear()
    while not _main_queue.empty():
        _main_queue.get_nowait()


def _run_callback(node: Node | None, knob: Knob | None, script: str) -> None:
    import sys

    _this_node.append(node)  # type: ignore[arg-type]
    _this_knob.append(knob)  # type: ignore[arg-type]
    try:
        exec(
            compile(script, f"<{node.name() if node else '?'} callback>", "exec"),
            {"nuke": sys.modules["nuke"]},
        )
    finally:
        _this_node.pop()
        _this_knob.pop()


def _find_on_plugin_path(filename: str) -> str | None:
    for folder in _plugin_paths + os.environ.get("NUKE_PATH", "").split(os.pathsep):
        if folder and os.path.exists(os.path.join(folder, filename)):
            return os.path.join(folder, filename)
    return None


# addUserKnob type ids (Nuke NDK "Knobs By ID")
_USER_KNOBS: dict[int, type[Knob]] = {
    1: String_Knob,
    2: File_Knob,
    3: Int_Knob,
    4: Enumeration_Knob,
    6: Boolean_Knob,
    7: Double_Knob,
    20: Tab_Knob,
    22: PyScript_Knob,
    26: Text_Knob,
}


def _unquote(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith('"') and raw.endswith('"'):
        return raw[1:-1].encode("latin-1").decode("unicode_escape")
    if raw.startswith("{") and raw.endswith("}"):
        return raw[1:-1]
    return raw


def parse_user_knob(spec: str) -> Knob:
    """One `addUserKnob
    {ID name [l label] [M {items}] [T script/text] [R min max] [t tooltip] [+/-FLAGS]}`."""
    body = spec.strip()[1:-1]
    items_match = re.search(r"\bM \{([^}]*)\}", body)
    body_wo_items = body[: items_match.start()] + body[items_match.end() :] if items_match else body
    tokens = shlex.split(body_wo_items, posix=True)
    kind, name = int(tokens[0]), tokens[1]
    if kind not in _USER_KNOBS:
        raise ValueError(f"addUserKnob type {kind} is not supported by the fake")
    opts: dict[str, Any] = {}
    i = 2
    while i < len(tokens):
        t = tokens[i]
        if t in ("l", "t", "T"):
            opts[t] = tokens[i + 1].encode("latin-1").decode("unicode_escape")  # TCL escapes such as \n
            i += 2
        elif t == "R":
            opts["R"] = (float(tokens[i + 1]), float(tokens[i + 2]))
            i += 3
        elif t.startswith(("+", "-")):
            i += 1
        else:
            raise ValueError(f"unexpected token {t!r} in addUserKnob {{{body}}}")
    label = opts.get("l", name)
    cls = _USER_KNOBS[kind]
    if cls is Enumeration_Knob:
        knob: Knob = Enumeration_Knob(name, label, shlex.split(items_match.group(1)) if items_match else [])
    elif cls in (PyScript_Knob, Text_Knob):
        knob = cls(name, label, opts.get("T", ""))
    else:
        knob = cls(name, label)
    if "t" in opts:
        knob.setTooltip(opts["t"])
    return knob


def _set_from_script(knob: Knob, value: str) -> None:
    """A knob value as a .nk script writes it (`true`, `1`, `0.5`, text), typed like the knob's current
    value."""
    if isinstance(knob._value, bool):
        knob._value = value == "true"
    elif isinstance(knob._value, (int, float)) and value:
        knob._value = type(knob._value)(value)
    else:
        knob._value = value


def _load_gizmo(typ: str, path: str) -> Gizmo:
    import nkparser

    script = nkparser.Script.from_file(path)
    # nkparser does not model `end_group` outside a `Group {}` block; it is the one statement a gizmo ends
    # with.
    errors = [d for d in script.errors() if "end_group" not in d.message]
    if errors:
        raise RuntimeError(f"{path}: {errors[0].message}")
    header, *children = list(script.all_nodes())
    gizmo = Gizmo(typ, parent=_current_group())
    for knob in header.knobs:
        raw = knob.value.raw
        if knob.name == "addUserKnob":
            gizmo.addKnob(parse_user_knob(raw))
        elif knob.name in ("onCreate", "knobChanged"):
            gizmo._callbacks[knob.name] = _unquote(raw)
        elif knob.name in gizmo._knobs:
            _set_from_script(gizmo._knobs[knob.name], _unquote(raw))
    stack: list[Node] = []
    with gizmo:
        for child in children:
            cls = _NODE_TYPES.get(child.class_name, Node)
            node = cls(child.class_name, child.name, parent=gizmo)
            for knob in child.knobs:
                if knob.name in ("name", "xpos", "ypos", "inputs"):
                    continue
                value = _unquote(knob.value.raw)
                if knob.name in node._knobs:
                    _set_from_script(node._knobs[knob.name], value)
                else:
                    node.addKnob(String_Knob(knob.name, knob.name, value))
            declared = child.get_string("inputs") if child.get("inputs") is not None else None
            n_inputs = int(declared) if declared else (0 if child.class_name in ("Input", "Read") else 1)
            for i in range(n_inputs):
                node.setInput(i, stack.pop() if stack else None)
            stack.append(node)
    script_ = gizmo._callbacks.get("onCreate")
    if script_:
        _run_callback(gizmo, None, script_)
    return gizmo


def _frame_path(pattern: str, frame: int) -> str:
    if "%" in pattern:
        return pattern % frame
    return re.sub(r"#+", lambda m: f"{frame:0{len(m.group(0))}d}", pattern)


def _oiio_read(path: str) -> np.ndarray:
    from vh.core.io import read_image

    pixels = read_image(path)
    if pixels.shape[-1] == 3:  # Nuke gives every image an alpha channel (zero when the file has none)
        pixels = np.concatenate([pixels, np.zeros_like(pixels[..., :1])], axis=-1)
    return pixels


_WRITE_COMPRESSION = {"none": "none", "Zip (1 scanline)": "zips", "Zip (16 scanlines)": "zip"}


def _oiio_write(path: str, pixels: np.ndarray, datatype: str, compression: str) -> None:
    from vh.core.io import write_image

    pixel_type = "float" if datatype.startswith("32") else "half"
    write_image(path, pixels, pixel_type=pixel_type, compression=_WRITE_COMPRESSION.get(compression, "zips"))
