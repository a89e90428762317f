"""A small headless OpenFX host, in Python ctypes, for testing and benchmarking OFX image effects.

It loads a built `.ofx` bundle, walks the action sequence a real host walks (Load, Describe,
DescribeInContext, CreateInstance, GetFramesNeeded, Render, DestroyInstance, Unload) and provides the
property, parameter, image-effect, memory, message (V1 and V2, persistent messages) and multithread suites.
Frames come from Python callables returning numpy arrays (top-down [H, W, C], float32 or float16); the host
lays them out as OFX wants (bottom-up rows, optional row padding, optional offset bounds) and turns the output
back into top-down arrays.

It is deliberately strict, so that a test catches plugin bugs a lenient host would hide:
- clipGetImage during a render outside the frames the plugin asked for in GetFramesNeeded is refused;
- every image must be released and every memory-suite block freed by the time the instance is destroyed
  (`OfxInstance.destroy()` raises otherwise);
- a type mismatch on a property, an unknown property or parameter, or an exception inside a suite call is an
  error recorded in `OfxHost.errors` (and the suite call returns a failure status, never a false success).

Platform note: the parameter and message suites are C-variadic. ctypes cannot define variadic callbacks, so
they are declared with fixed pointer arguments, which is ABI-compatible for pointer/int arguments on x86-64
SysV and AArch64 Linux (the only targets this host runs on); paramSetValue of a double parameter is not
supported.

    host = OfxHost(bundle)
    inst = host.create_instance(source=InputClip(frames, (1, 12)), matte=InputClip(mattes, (1, 12)))
    out = inst.render(5)         # float32 [H, W, 4], top-down; OfxRenderError carries the plugin's message
    inst.destroy(); host.unload()
"""

from __future__ import annotations

import ctypes as C
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# ------------------------------------------------------------------------------------------------------------
# ABI (the OpenFX standard's struct layouts and names)

OK, FAILED, ERR_FATAL, ERR_UNKNOWN, ERR_MISSING_HOST_FEATURE, ERR_UNSUPPORTED = 0, 1, 2, 3, 4, 5
ERR_EXISTS, ERR_FORMAT, ERR_MEMORY, ERR_BAD_HANDLE, ERR_BAD_INDEX, ERR_VALUE = 6, 7, 8, 9, 10, 11
REPLY_DEFAULT = 14

CONTEXT_GENERAL = "OfxImageEffectContextGeneral"
CONTEXT_FILTER = "OfxImageEffectContextFilter"
DEPTHS = {
    "float": ("OfxBitDepthFloat", np.float32),
    "half": ("OfxBitDepthHalf", np.float16),
    "short": ("OfxBitDepthShort", np.uint16),
    "byte": ("OfxBitDepthByte", np.uint8),
}
SCALE = {"short": 65535.0, "byte": 255.0}  # integer depths hold 0..1 as 0..SCALE
COMPONENTS = {4: "OfxImageComponentRGBA", 1: "OfxImageComponentAlpha", 3: "OfxImageComponentRGB"}

H = C.c_void_p  # every OFX handle is an opaque pointer
S = C.c_char_p
PROTO = C.CFUNCTYPE


class OfxRectD(C.Structure):
    _fields_ = [("x1", C.c_double), ("y1", C.c_double), ("x2", C.c_double), ("y2", C.c_double)]


FetchSuite = PROTO(C.c_void_p, H, S, C.c_int)


class OfxHostStruct(C.Structure):
    _fields_ = [("host", H), ("fetchSuite", FetchSuite)]


SetHost = PROTO(None, C.POINTER(OfxHostStruct))
MainEntry = PROTO(C.c_int, S, H, H, H)


class OfxPlugin(C.Structure):
    _fields_ = [
        ("pluginApi", S),
        ("apiVersion", C.c_int),
        ("pluginIdentifier", S),
        ("pluginVersionMajor", C.c_uint),
        ("pluginVersionMinor", C.c_uint),
        ("setHost", SetHost),
        ("mainEntry", MainEntry),
    ]


def _suite(name: str, fields: list[tuple[str, object]]) -> type[C.Structure]:
    return type(name, (C.Structure,), {"_fields_": fields})


PropertySuiteV1 = _suite(
    "PropertySuiteV1",
    [
        ("propSetPointer", PROTO(C.c_int, H, S, C.c_int, C.c_void_p)),
        ("propSetString", PROTO(C.c_int, H, S, C.c_int, S)),
        ("propSetDouble", PROTO(C.c_int, H, S, C.c_int, C.c_double)),
        ("propSetInt", PROTO(C.c_int, H, S, C.c_int, C.c_int)),
        ("propSetPointerN", PROTO(C.c_int, H, S, C.c_int, C.POINTER(C.c_void_p))),
        ("propSetStringN", PROTO(C.c_int, H, S, C.c_int, C.POINTER(S))),
        ("propSetDoubleN", PROTO(C.c_int, H, S, C.c_int, C.POINTER(C.c_double))),
        ("propSetIntN", PROTO(C.c_int, H, S, C.c_int, C.POINTER(C.c_int))),
        ("propGetPointer", PROTO(C.c_int, H, S, C.c_int, C.POINTER(C.c_void_p))),
        ("propGetString", PROTO(C.c_int, H, S, C.c_int, C.POINTER(C.c_void_p))),
        ("propGetDouble", PROTO(C.c_int, H, S, C.c_int, C.POINTER(C.c_double))),
        ("propGetInt", PROTO(C.c_int, H, S, C.c_int, C.POINTER(C.c_int))),
        ("propGetPointerN", PROTO(C.c_int, H, S, C.c_int, C.POINTER(C.c_void_p))),
        ("propGetStringN", PROTO(C.c_int, H, S, C.c_int, C.POINTER(C.c_void_p))),
        ("propGetDoubleN", PROTO(C.c_int, H, S, C.c_int, C.POINTER(C.c_double))),
        ("propGetIntN", PROTO(C.c_int, H, S, C.c_int, C.POINTER(C.c_int))),
        ("propReset", PROTO(C.c_int, H, S)),
        ("propGetDimension", PROTO(C.c_int, H, S, C.POINTER(C.c_int))),
    ],
)

_V = C.c_void_p  # a variadic slot (see the platform note above)
ParameterSuiteV1 = _suite(
    "ParameterSuiteV1",
    [
        ("paramDefine", PROTO(C.c_int, H, S, S, C.POINTER(H))),
        ("paramGetHandle", PROTO(C.c_int, H, S, C.POINTER(H), C.c_void_p)),
        ("paramSetGetPropertySet", PROTO(C.c_int, H, C.POINTER(H))),
        ("paramGetPropertySet", PROTO(C.c_int, H, C.POINTER(H))),
        ("paramGetValue", PROTO(C.c_int, H, _V, _V, _V, _V)),
        ("paramGetValueAtTime", PROTO(C.c_int, H, C.c_double, _V, _V, _V, _V)),
        ("paramGetDerivative", PROTO(C.c_int, H, C.c_double, _V, _V, _V, _V)),
        ("paramGetIntegral", PROTO(C.c_int, H, C.c_double, C.c_double, _V, _V, _V, _V)),
        ("paramSetValue", PROTO(C.c_int, H, _V, _V, _V, _V)),
        ("paramSetValueAtTime", PROTO(C.c_int, H, C.c_double, _V, _V, _V, _V)),
        ("paramGetNumKeys", PROTO(C.c_int, H, C.POINTER(C.c_uint))),
        ("paramGetKeyTime", PROTO(C.c_int, H, C.c_uint, C.POINTER(C.c_double))),
        ("paramGetKeyIndex", PROTO(C.c_int, H, C.c_double, C.c_int, C.POINTER(C.c_int))),
        ("paramDeleteKey", PROTO(C.c_int, H, C.c_double)),
        ("paramDeleteAllKeys", PROTO(C.c_int, H)),
        ("paramCopy", PROTO(C.c_int, H, H, C.c_double, C.c_void_p)),
        ("paramEditBegin", PROTO(C.c_int, H, S)),
        ("paramEditEnd", PROTO(C.c_int, H)),
    ],
)

ImageEffectSuiteV1 = _suite(
    "ImageEffectSuiteV1",
    [
        ("getPropertySet", PROTO(C.c_int, H, C.POINTER(H))),
        ("getParamSet", PROTO(C.c_int, H, C.POINTER(H))),
        ("clipDefine", PROTO(C.c_int, H, S, C.POINTER(H))),
        ("clipGetHandle", PROTO(C.c_int, H, S, C.POINTER(H), C.c_void_p)),
        ("clipGetPropertySet", PROTO(C.c_int, H, C.POINTER(H))),
        ("clipGetImage", PROTO(C.c_int, H, C.c_double, C.POINTER(OfxRectD), C.POINTER(H))),
        ("clipReleaseImage", PROTO(C.c_int, H)),
        ("clipGetRegionOfDefinition", PROTO(C.c_int, H, C.c_double, C.POINTER(OfxRectD))),
        ("abort", PROTO(C.c_int, H)),
        ("imageMemoryAlloc", PROTO(C.c_int, H, C.c_size_t, C.POINTER(H))),
        ("imageMemoryFree", PROTO(C.c_int, H)),
        ("imageMemoryLock", PROTO(C.c_int, H, C.POINTER(C.c_void_p))),
        ("imageMemoryUnlock", PROTO(C.c_int, H)),
    ],
)

MemorySuiteV1 = _suite(
    "MemorySuiteV1",
    [
        ("memoryAlloc", PROTO(C.c_int, H, C.c_size_t, C.POINTER(C.c_void_p))),
        ("memoryFree", PROTO(C.c_int, C.c_void_p)),
    ],
)

_Message = PROTO(C.c_int, H, S, S, S, _V)
MessageSuiteV1 = _suite("MessageSuiteV1", [("message", _Message)])
MessageSuiteV2 = _suite(
    "MessageSuiteV2",
    [
        ("message", _Message),
        ("setPersistentMessage", _Message),
        ("clearPersistentMessage", PROTO(C.c_int, H)),
    ],
)

ThreadFunction = PROTO(None, C.c_uint, C.c_uint, C.c_void_p)
MultiThreadSuiteV1 = _suite(
    "MultiThreadSuiteV1",
    [
        ("multiThread", PROTO(C.c_int, C.c_void_p, C.c_uint, C.c_void_p)),
        ("multiThreadNumCPUs", PROTO(C.c_int, C.POINTER(C.c_uint))),
        ("multiThreadIndex", PROTO(C.c_int, C.POINTER(C.c_uint))),
        ("multiThreadIsSpawnedThread", PROTO(C.c_int)),
        ("mutexCreate", PROTO(C.c_int, C.POINTER(H), C.c_int)),
        ("mutexDestroy", PROTO(C.c_int, H)),
        ("mutexLock", PROTO(C.c_int, H)),
        ("mutexUnLock", PROTO(C.c_int, H)),
        ("mutexTryLock", PROTO(C.c_int, H)),
    ],
)

_libc = C.CDLL(None)
_libc.malloc.restype = C.c_void_p
_libc.malloc.argtypes = [C.c_size_t]
_libc.free.argtypes = [C.c_void_p]


# ------------------------------------------------------------------------------------------------------------
# Host-side objects


class OfxError(RuntimeError):
    """The plugin answered an action with a failure status."""


class OfxRenderError(OfxError):
    """Render failed; `message` is the plugin's persistent error message (if it set one)."""

    def __init__(self, status: int, message: str | None):
        super().__init__(f"render failed with status {status}: {message}")
        self.status = status
        self.message = message


class PropertySet:
    """Typed, multi-dimensional properties. Strings are kept as ctypes buffers so char* stays valid."""

    def __init__(self, kind: str, values: dict | None = None):
        self.kind = kind
        self.values: dict[str, tuple[str, list]] = {}
        for name, value in (values or {}).items():
            self.set_all(name, value)

    def set_all(self, name: str, value) -> None:
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if not items:
            self.values[name] = ("str", [])
            return
        first = items[0]
        kind = "str" if isinstance(first, str) else "double" if isinstance(first, float) else "int"
        self.values[name] = (kind, [self._store(kind, v) for v in items])

    @staticmethod
    def _store(kind: str, value):
        return C.create_string_buffer(value.encode()) if kind == "str" else value

    def get(self, name: str, index: int = 0):
        kind, items = self.values[name]
        value = items[index]
        return value.value.decode() if kind == "str" else value

    def get_all(self, name: str) -> list:
        kind, items = self.values[name]
        return [v.value.decode() if kind == "str" else v for v in items]


@dataclass
class InputClip:
    """An input clip: `frames(t)` returns a top-down [H, W, C] array (C 4 for RGBA, 1 for Alpha) or None."""

    frames: Callable[[int], np.ndarray | None] | None
    frame_range: tuple[int, int] = (1, 1)
    depth: str = "float"  # "float" | "half" | "short" | "byte" (0..1 rounded to the integer range)
    origin: tuple[int, int] = (0, 0)  # bounds x1, y1: the host may place images anywhere
    row_padding: int = 0  # extra bytes at the end of every row (rowBytes > width * pixel)


@dataclass
class _Param:
    type: str
    name: str
    props: PropertySet
    value: object = None
    string_buffer: object = None


@dataclass
class _Image:
    raw: np.ndarray
    props: PropertySet
    clip: _ClipInstance
    time: float
    view: np.ndarray  # top-down view of the pixels


@dataclass
class _ClipInstance:
    name: str
    props: PropertySet
    source: InputClip | None = None  # None: the output clip (or an unconnected input)
    size: tuple[int, int] = (0, 0)  # output: width, height


@dataclass
class _Effect:
    props: PropertySet
    params: dict[str, _Param] = field(default_factory=dict)
    param_set_props: PropertySet = field(default_factory=lambda: PropertySet("paramset"))
    clips: dict[str, _ClipInstance] = field(default_factory=dict)
    param_set: _ParamSet = field(init=False)

    def __post_init__(self) -> None:
        self.param_set = _ParamSet(self)


class _ParamSet:
    """The parameter-set handle of an effect (a handle distinct from the effect and its property set)."""

    def __init__(self, effect: _Effect):
        self.effect = effect


# ------------------------------------------------------------------------------------------------------------
# The host


class OfxHost:
    """Loads one bundle and serves its suites. Not re-entrant across hosts: one OfxHost per process is
    typical."""

    def __init__(self, bundle: str | os.PathLike, cpus: int | None = None, temporal: bool = True):
        """`temporal=False` models hosts without temporal clip access (MLT, editors): the host property says 0
        and clipGetImage answers with the frame being rendered, whatever time is asked."""
        self.bundle = Path(bundle)
        self.temporal = temporal
        self.render_time: float | None = None
        binary = (
            self.bundle / "Contents" / "Linux-x86-64" / f"{self.bundle.name.removesuffix('.ofx.bundle')}.ofx"
        )
        if not binary.is_file():
            raise FileNotFoundError(f"no plugin binary at {binary}")
        self.errors: list[str] = []  # protocol violations and exceptions inside suite calls
        self.messages: list[tuple[str, str]] = []  # (type, text) of transient messages
        self.persistent: dict[int, tuple[str, str]] = {}  # effect handle -> (type, text)
        self.cpus = cpus or os.cpu_count() or 1
        self.aborted = False
        self._objects: dict[int, object] = {}  # handle -> object
        self._ids: dict[int, int] = {}  # id(object) -> handle
        self._next = 0x1000
        self._tls = threading.local()
        self._mutexes: dict[int, threading.RLock] = {}
        self.live_images: dict[int, _Image] = {}
        self.live_memory: dict[int, int] = {}  # pointer -> bytes
        self.stats = {"images": 0, "renders": 0}
        self._lib = C.CDLL(str(binary), mode=os.RTLD_LOCAL | os.RTLD_NOW)
        self._lib.OfxGetNumberOfPlugins.restype = C.c_int
        self._lib.OfxGetPlugin.restype = C.POINTER(OfxPlugin)
        self._lib.OfxGetPlugin.argtypes = [C.c_int]
        if self._lib.OfxGetNumberOfPlugins() < 1:
            raise OfxError(f"{binary} exports no plugins")
        self.plugin = self._lib.OfxGetPlugin(0).contents
        if self.plugin.pluginApi != b"OfxImageEffectPluginAPI":
            raise OfxError(f"not an image effect: {self.plugin.pluginApi!r}")
        self.identifier = self.plugin.pluginIdentifier.decode()
        self.host_props = PropertySet(
            "host",
            {
                "OfxPropName": "org.vh.headless-test-host",
                "OfxPropLabel": "vh headless test host",
                "OfxImageEffectHostPropIsBackground": 1,
                "OfxImageEffectPropSupportsOverlays": 0,
                "OfxImageEffectPropSupportsMultiResolution": 1,
                "OfxImageEffectPropSupportsTiles": 1,
                "OfxImageEffectPropTemporalClipAccess": int(temporal),
                "OfxImageEffectPropSupportsMultipleClipDepths": 0,
                "OfxImageEffectPropSupportedContexts": [CONTEXT_GENERAL, CONTEXT_FILTER],
                "OfxImageEffectPropSupportedPixelDepths": [
                    "OfxBitDepthFloat",
                    "OfxBitDepthHalf",
                    "OfxBitDepthShort",
                    "OfxBitDepthByte",
                ],
            },
        )
        self._build_suites()
        self._host_struct = OfxHostStruct(self._handle(self.host_props), self._fetch_suite)
        self.plugin.setHost(C.byref(self._host_struct))
        self._check("OfxActionLoad", None)
        self.descriptor = _Effect(PropertySet("descriptor", {"OfxPropType": "OfxTypeImageEffectHost"}))
        self._check("OfxActionDescribe", self.descriptor)
        self.contexts: dict[str, _Effect] = {}
        self.loaded = True

    # -- handles
    # ---------------------------------------------------------------------------------------------- #
    def _handle(self, obj) -> int:
        """The stable handle of a host object (created on first use; the object is kept alive until
        forgotten)."""
        key = self._ids.get(id(obj))
        if key is None:
            self._next += 16
            key = self._next
            self._objects[key] = obj
            self._ids[id(obj)] = key
        return key

    def _forget(self, obj) -> None:
        key = self._ids.pop(id(obj), None)
        if key is not None:
            del self._objects[key]

    def _obj(self, handle, kind: type | tuple):
        obj = self._objects.get(handle or 0)
        if not isinstance(obj, kind):
            raise TypeError(f"bad handle {handle!r} (expected {kind})")
        return obj

    # -- actions
    # ---------------------------------------------------------------------------------------------- #
    def _call(
        self, action: str, handle_obj, in_args: PropertySet | None = None, out_args: PropertySet | None = None
    ) -> int:
        handle = self._handle(handle_obj) if handle_obj is not None else None
        try:
            return self.plugin.mainEntry(
                action.encode(),
                handle,
                self._handle(in_args) if in_args else None,
                self._handle(out_args) if out_args else None,
            )
        finally:  # argument sets live for one action only
            for args in (in_args, out_args):
                if args is not None:
                    self._forget(args)

    def _check(self, action: str, handle_obj, in_args=None, out_args=None) -> int:
        status = self._call(action, handle_obj, in_args, out_args)
        if status not in (OK, REPLY_DEFAULT):
            raise OfxError(f"{action} failed with status {status}")
        return status

    def describe_in_context(self, context: str) -> _Effect:
        if context not in self.contexts:
            supported = self.descriptor.props.get_all("OfxImageEffectPropSupportedContexts")
            if context not in supported:
                raise OfxError(f"plugin does not support {context} (only {supported})")
            effect = _Effect(PropertySet("descriptor", {"OfxImageEffectPropContext": context}))
            self._check(
                "OfxImageEffectActionDescribeInContext",
                effect,
                PropertySet("args", {"OfxImageEffectPropContext": context}),
            )
            self.contexts[context] = effect
        return self.contexts[context]

    def create_instance(
        self,
        source: InputClip,
        matte: InputClip | None = None,
        *,
        context: str = CONTEXT_GENERAL,
        params: dict | None = None,
    ) -> OfxInstance:
        desc = self.describe_in_context(context)
        first = source.frames(source.frame_range[0]) if source.frames else None
        if first is None:
            raise ValueError("the source clip has no first frame")
        height, width = first.shape[:2]
        effect = _Effect(
            PropertySet(
                "instance",
                {
                    "OfxPropType": "OfxTypeImageEffectInstance",
                    "OfxImageEffectPropContext": context,
                    "OfxPropInstanceData": 0,
                    "OfxImageEffectPropProjectSize": [float(width), float(height)],
                    "OfxImageEffectPropFrameRate": 25.0,
                    "OfxImageEffectInstancePropSequentialRender": 0,
                },
            )
        )
        effect.props.values["OfxPropInstanceData"] = ("ptr", [None])
        for name in desc.clips:
            clip = {"Source": source, "Matte": matte}.get(name)
            depth = DEPTHS[source.depth][0]
            comps = COMPONENTS[4]
            if clip is not None or name == "Output":  # Output: the Source's components, as Filter hosts do
                sample = np.asarray((clip or source).frames((clip or source).frame_range[0]))
                comps = COMPONENTS[1 if sample.ndim == 2 else sample.shape[2]]
            props = PropertySet(
                "clip",
                {
                    "OfxPropName": name,
                    "OfxImageClipPropConnected": int(name == "Output" or clip is not None),
                    "OfxImageEffectPropPixelDepth": depth,
                    "OfxImageEffectPropComponents": comps,
                    "OfxImageEffectPropFrameRange": [
                        float(source.frame_range[0]),
                        float(source.frame_range[1]),
                    ],
                    "OfxImageEffectPropFrameRate": 25.0,
                    "OfxImagePropPixelAspectRatio": 1.0,
                    "OfxImageClipPropContinuousSamples": 0,
                },
            )
            if clip is not None:
                props.set_all(
                    "OfxImageEffectPropFrameRange", [float(clip.frame_range[0]), float(clip.frame_range[1])]
                )
            out_source = InputClip(None, source.frame_range, source.depth, source.origin, source.row_padding)
            effect.clips[name] = _ClipInstance(
                name, props, clip if name != "Output" else out_source, (width, height)
            )
        for name, param in desc.params.items():
            props = PropertySet("param")
            props.values = dict(param.props.values)
            default = props.get("OfxParamPropDefault") if "OfxParamPropDefault" in props.values else None
            effect.params[name] = _Param(param.type, name, props, default)
        for name, value in (params or {}).items():
            if name not in effect.params:
                raise KeyError(f"plugin has no parameter {name!r}")
            effect.params[name].value = value
        inst = OfxInstance(self, effect, (width, height), source)
        self._check("OfxActionCreateInstance", effect)
        return inst

    def unload(self) -> None:
        if self.loaded:
            self._check("OfxActionUnload", None)
            self.loaded = False

    # -- suites
    # ----------------------------------------------------------------------------------------------- #
    def _guard(self, proto, fn, fail: int = FAILED):
        """Wrap a Python suite function: exceptions become a recorded error and a failure status."""

        def wrapped(*args):
            try:
                result = fn(*args)
                return OK if result is None and proto._restype_ is C.c_int else result
            except _Status as status:
                return status.code
            except Exception as exc:  # noqa: BLE001 - anything here is a host or plugin bug to report
                self.errors.append(f"{fn.__name__}: {type(exc).__name__}: {exc}")
                return fail if proto._restype_ is C.c_int else None

        return proto(wrapped)

    def _make(self, struct: type[C.Structure], impl: dict[str, Callable]) -> C.Structure:
        fields = {}
        for name, proto in struct._fields_:
            fn = impl.get(name) or _unsupported(name)
            fields[name] = self._guard(proto, fn)
        return struct(**fields)

    def _build_suites(self) -> None:
        self._suites = {
            ("OfxPropertySuite", 1): self._make(PropertySuiteV1, self._property_impl()),
            ("OfxParameterSuite", 1): self._make(ParameterSuiteV1, self._param_impl()),
            ("OfxImageEffectSuite", 1): self._make(ImageEffectSuiteV1, self._effect_impl()),
            ("OfxMemorySuite", 1): self._make(MemorySuiteV1, self._memory_impl()),
            ("OfxMessageSuite", 1): self._make(MessageSuiteV1, self._message_impl()),
            ("OfxMessageSuite", 2): self._make(MessageSuiteV2, self._message_impl()),
            ("OfxMultiThreadSuite", 1): self._make(MultiThreadSuiteV1, self._thread_impl()),
        }

        def fetch_suite(_host, name, version):
            suite = self._suites.get((name.decode(), version))
            return C.addressof(suite) if suite is not None else None

        self._fetch_suite = FetchSuite(fetch_suite)

    # property suite
    def _property_impl(self) -> dict:
        def props_of(handle) -> PropertySet:
            return self._obj(handle, PropertySet)

        def setter(kind):
            def set_one(handle, name, index, value):
                props, key = props_of(handle), name.decode()
                current_kind, items = props.values.get(key, (kind, []))
                if key in props.values and current_kind != kind:
                    raise TypeError(f"property {key} is {current_kind}, set as {kind}")
                if kind == "str":
                    value = C.create_string_buffer(value or b"")
                items = list(items) + [None] * max(0, index + 1 - len(items))
                items[index] = value
                props.values[key] = (kind, items)

            set_one.__name__ = f"propSet[{kind}]"
            return set_one

        def setter_n(kind):
            one = setter(kind)

            def set_n(handle, name, count, values):
                for i in range(count):
                    one(handle, name, i, values[i])

            set_n.__name__ = f"propSetN[{kind}]"
            return set_n

        def read(handle, name, index, kind):
            props, key = props_of(handle), name.decode()
            if key not in props.values:
                raise _Status(ERR_UNKNOWN)
            current_kind, items = props.values[key]
            if current_kind != kind:
                raise TypeError(f"property {key} is {current_kind}, read as {kind}")
            if not 0 <= index < len(items):
                raise _Status(ERR_BAD_INDEX)
            value = items[index]
            return C.addressof(value) if kind == "str" else (value if value is not None else 0)

        def getter(kind):
            def get_one(handle, name, index, out):
                out[0] = read(handle, name, index, kind)

            get_one.__name__ = f"propGet[{kind}]"
            return get_one

        def getter_n(kind):
            def get_n(handle, name, count, out):
                for i in range(count):
                    out[i] = read(handle, name, i, kind)

            get_n.__name__ = f"propGetN[{kind}]"
            return get_n

        def prop_get_dimension(handle, name, count):
            props, key = props_of(handle), name.decode()
            if key not in props.values:
                raise _Status(ERR_UNKNOWN)
            count[0] = len(props.values[key][1])

        def prop_reset(handle, name):
            raise _Status(ERR_UNSUPPORTED)

        return {
            "propSetPointer": setter("ptr"),
            "propSetString": setter("str"),
            "propSetDouble": setter("double"),
            "propSetInt": setter("int"),
            "propSetPointerN": setter_n("ptr"),
            "propSetStringN": setter_n("str"),
            "propSetDoubleN": setter_n("double"),
            "propSetIntN": setter_n("int"),
            "propGetPointer": getter("ptr"),
            "propGetString": getter("str"),
            "propGetDouble": getter("double"),
            "propGetInt": getter("int"),
            "propGetPointerN": getter_n("ptr"),
            "propGetStringN": getter_n("str"),
            "propGetDoubleN": getter_n("double"),
            "propGetIntN": getter_n("int"),
            "propReset": prop_reset,
            "propGetDimension": prop_get_dimension,
        }

    # parameter suite
    def _param_impl(self) -> dict:
        def param_set_owner(handle) -> _Effect:
            return self._obj(handle, _ParamSet).effect

        def param_define(handle, ptype, name, props_out):
            effect = param_set_owner(handle)
            key = name.decode()
            if key in effect.params:
                raise _Status(ERR_EXISTS)
            props = PropertySet("param", {"OfxParamPropType": ptype.decode(), "OfxPropName": key})
            effect.params[key] = _Param(ptype.decode(), key, props)
            if props_out:
                props_out[0] = self._handle(props)

        def param_get_handle(handle, name, param_out, props_out):
            effect = param_set_owner(handle)
            param = effect.params.get(name.decode())
            if param is None:
                self.errors.append(f"paramGetHandle: no parameter {name.decode()!r}")
                raise _Status(ERR_UNKNOWN)
            param_out[0] = self._handle(param)
            if props_out:
                C.cast(props_out, C.POINTER(C.c_void_p))[0] = self._handle(param.props)

        def param_set_get_property_set(handle, props_out):
            props_out[0] = self._handle(param_set_owner(handle).param_set_props)

        def param_get_property_set(handle, props_out):
            props_out[0] = self._handle(self._obj(handle, _Param).props)

        def param_get_value(handle, p1, p2, p3, p4):
            param = self._obj(handle, _Param)
            if param.type == "OfxParamTypeString":
                param.string_buffer = C.create_string_buffer(str(param.value or "").encode())
                C.cast(p1, C.POINTER(C.c_void_p))[0] = C.addressof(param.string_buffer)
            elif param.type == "OfxParamTypeDouble":
                C.cast(p1, C.POINTER(C.c_double))[0] = float(param.value)
            elif param.type in ("OfxParamTypeInteger", "OfxParamTypeBoolean", "OfxParamTypeChoice"):
                C.cast(p1, C.POINTER(C.c_int))[0] = int(param.value)
            else:
                raise TypeError(f"paramGetValue on a {param.type}")

        def param_get_value_at_time(handle, _time, p1, p2, p3, p4):
            param_get_value(handle, p1, p2, p3, p4)

        def param_set_value(handle, a1, a2, a3, a4):
            param = self._obj(handle, _Param)
            if param.type == "OfxParamTypeString":
                param.value = C.cast(a1, C.c_char_p).value.decode() if a1 else ""
            elif param.type in ("OfxParamTypeInteger", "OfxParamTypeBoolean", "OfxParamTypeChoice"):
                param.value = C.c_int(a1 or 0).value
            else:
                raise TypeError(f"this host cannot receive a variadic double (paramSetValue on {param.type})")

        return {
            "paramDefine": param_define,
            "paramGetHandle": param_get_handle,
            "paramSetGetPropertySet": param_set_get_property_set,
            "paramGetPropertySet": param_get_property_set,
            "paramGetValue": param_get_value,
            "paramGetValueAtTime": param_get_value_at_time,
            "paramSetValue": param_set_value,
            "paramEditBegin": lambda h, n: None,
            "paramEditEnd": lambda h: None,
        }

    # image effect suite
    def _effect_impl(self) -> dict:
        def get_property_set(handle, out):
            out[0] = self._handle(self._obj(handle, _Effect).props)

        def get_param_set(handle, out):
            effect = self._obj(handle, _Effect)
            out[0] = self._handle(effect.param_set)

        def clip_define(handle, name, out):
            effect = self._obj(handle, _Effect)
            key = name.decode()
            props = PropertySet("clipdesc", {"OfxPropName": key})
            effect.clips[key] = _ClipInstance(key, props)
            out[0] = self._handle(props)

        def clip_get_handle(handle, name, clip_out, props_out):
            effect = self._obj(handle, _Effect)
            clip = effect.clips.get(name.decode())
            if clip is None:
                raise _Status(ERR_UNKNOWN)
            clip_out[0] = self._handle(clip)
            if props_out:
                C.cast(props_out, C.POINTER(C.c_void_p))[0] = self._handle(clip.props)

        def clip_get_property_set(handle, out):
            out[0] = self._handle(self._obj(handle, _ClipInstance).props)

        def clip_get_image(handle, time, region, out):
            clip = self._obj(handle, _ClipInstance)
            image = self._image(clip, time)
            if image is None:
                raise _Status(FAILED)
            out[0] = self._handle(image.props)

        def clip_release_image(handle):
            props = self._obj(handle, PropertySet)
            key = self._handle(props)
            image = self.live_images.pop(key, None)
            if image is None:
                self.errors.append("clipReleaseImage of an image not fetched (or released twice)")
                raise _Status(ERR_BAD_HANDLE)
            if image.clip.name == "Output":
                self._current.outputs[image.time] = image.view.copy()
            self._forget(props)

        def clip_get_rod(handle, time, out):
            clip = self._obj(handle, _ClipInstance)
            if clip.source is None or clip.source.frames is None:
                raise _Status(FAILED)
            pixels = clip.source.frames(round(time))
            if pixels is None:
                raise _Status(FAILED)
            x1, y1 = clip.source.origin
            out[0] = OfxRectD(x1, y1, x1 + pixels.shape[1], y1 + pixels.shape[0])

        def image_memory_alloc(_effect, nbytes, out):
            self._malloc(nbytes, out)

        def image_memory_free(ptr):
            self._free(ptr)

        def image_memory_lock(ptr, out):
            out[0] = ptr

        return {
            "getPropertySet": get_property_set,
            "getParamSet": get_param_set,
            "clipDefine": clip_define,
            "clipGetHandle": clip_get_handle,
            "clipGetPropertySet": clip_get_property_set,
            "clipGetImage": clip_get_image,
            "clipReleaseImage": clip_release_image,
            "clipGetRegionOfDefinition": clip_get_rod,
            "abort": lambda h: int(self.aborted),
            "imageMemoryAlloc": image_memory_alloc,
            "imageMemoryFree": image_memory_free,
            "imageMemoryLock": image_memory_lock,
            "imageMemoryUnlock": lambda h: None,
        }

    def _image(self, clip: _ClipInstance, time: float) -> _Image | None:
        inst = self._current
        t = round(time)
        if clip.name != "Output" and not self.temporal and self.render_time is not None:
            t = round(self.render_time)  # such hosts hold only the frame being rendered
        if clip.name != "Output":
            needed = inst.frames_needed_now.get(clip.name) if inst.frames_needed_now is not None else None
            if needed is not None and not any(lo <= t <= hi for lo, hi in needed):
                self.errors.append(f"clipGetImage({clip.name}, {time}) outside the frames needed {needed}")
                return None
            if clip.source is None or clip.source.frames is None:
                return None
            pixels = clip.source.frames(t)
            if pixels is None:
                return None
            depth = clip.source.depth
        else:
            depth = clip.source.depth
            width, height = clip.size
            comps = {v: k for k, v in COMPONENTS.items()}[clip.props.get("OfxImageEffectPropComponents")]
            pixels = np.broadcast_to(np.float32(0), (height, width, comps))  # only the shape is used
        dtype = DEPTHS[depth][1]
        pixels = np.asarray(pixels)
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        height, width, comps = pixels.shape
        item = np.dtype(dtype).itemsize
        row_bytes = width * comps * item + clip.source.row_padding
        # Input images are overwritten whole below; the output starts black (calloc'ed pages cost nothing).
        raw = (np.zeros if clip.name == "Output" else np.empty)(height * row_bytes, np.uint8)
        # Bottom-up rows: memory row 0 is the image's bottom row (OFX's y axis points up).
        view_bottom_up = np.lib.stride_tricks.as_strided(
            raw.view(dtype), shape=(height, width, comps), strides=(row_bytes, comps * item, item)
        )
        if clip.name != "Output":
            if depth in SCALE:
                view_bottom_up[:] = np.rint(np.clip(pixels[::-1], 0.0, 1.0) * SCALE[depth])
            else:
                view_bottom_up[:] = pixels[::-1]  # one copy, converting to the clip's depth on the way
        x1, y1 = clip.source.origin
        props = PropertySet(
            "image",
            {
                "OfxImageEffectPropPixelDepth": DEPTHS[depth][0],
                "OfxImageEffectPropComponents": COMPONENTS[comps],
                "OfxImagePropBounds": [x1, y1, x1 + width, y1 + height],
                "OfxImagePropRegionOfDefinition": [x1, y1, x1 + width, y1 + height],
                "OfxImagePropRowBytes": row_bytes,
                "OfxImagePropPixelAspectRatio": 1.0,
                "OfxImageEffectPropPreMultiplication": "OfxImageUnPreMultiplied",
                "OfxImagePropField": "OfxImageFieldNone",
                "OfxImagePropUniqueIdentifier": f"{clip.name}:{t}",
                "OfxImageEffectPropRenderScale": [1.0, 1.0],
                "OfxPropTime": float(time),
            },
        )
        props.values["OfxImagePropData"] = ("ptr", [raw.ctypes.data])
        image = _Image(raw, props, clip, time, view_bottom_up[::-1])
        self.live_images[self._handle(props)] = image
        self.stats["images"] += 1
        return image

    # memory suite
    def _memory_impl(self) -> dict:
        def memory_alloc(_handle, nbytes, out):
            self._malloc(nbytes, out)

        def memory_free(ptr):
            self._free(ptr, complaint="memoryFree of a block not allocated (or freed twice)")

        return {"memoryAlloc": memory_alloc, "memoryFree": memory_free}

    def _malloc(self, nbytes: int, out) -> None:
        """The allocator behind both memory suites: malloc, tracked so that leaks and double frees show."""
        ptr = _libc.malloc(max(1, nbytes))
        if not ptr:
            raise _Status(ERR_MEMORY)
        self.live_memory[ptr] = nbytes
        out[0] = ptr

    def _free(self, ptr, complaint: str | None = None) -> None:
        if self.live_memory.pop(ptr or 0, None) is None:
            if complaint:
                self.errors.append(complaint)
            raise _Status(ERR_BAD_HANDLE)
        _libc.free(ptr)

    # message suites (the plugin formats its text; this host honours only "%s" and plain strings)
    def _message_impl(self) -> dict:
        def text(fmt, arg) -> str:
            fmt_s = fmt.decode(errors="replace") if fmt else ""
            if fmt_s == "%s":
                return C.cast(arg, C.c_char_p).value.decode(errors="replace") if arg else ""
            return fmt_s

        def message(_handle, mtype, _mid, fmt, arg):
            self.messages.append((mtype.decode(), text(fmt, arg)))

        def set_persistent(handle, mtype, _mid, fmt, arg):
            self.persistent[handle or 0] = (mtype.decode(), text(fmt, arg))

        def clear_persistent(handle):
            self.persistent.pop(handle or 0, None)

        return {
            "message": message,
            "setPersistentMessage": set_persistent,
            "clearPersistentMessage": clear_persistent,
        }

    # multithread suite: real threads (ctypes releases the GIL while the plugin's function runs)
    def _thread_impl(self) -> dict:
        def multi_thread(func, count, arg):
            fn = ThreadFunction(func)

            def run(index: int) -> None:
                self._tls.index, self._tls.spawned = index, True
                fn(index, count, arg)

            threads = [threading.Thread(target=run, args=(i,)) for i in range(1, count)]
            for thread in threads:
                thread.start()
            self._tls.index = 0
            fn(0, count, arg)  # the calling thread is thread 0, as in most hosts
            for thread in threads:
                thread.join()

        def num_cpus(out):
            out[0] = self.cpus

        def thread_index(out):
            out[0] = getattr(self._tls, "index", 0)

        def is_spawned():
            return int(getattr(self._tls, "spawned", False))

        def mutex_create(out, lock_count):
            lock = threading.RLock()
            for _ in range(lock_count):
                lock.acquire()
            key = self._handle(lock)
            self._mutexes[key] = lock
            out[0] = key

        def mutex_destroy(handle):
            self._forget(self._mutexes.pop(handle or 0))

        def mutex_lock(handle):
            self._mutexes[handle].acquire()

        def mutex_unlock(handle):
            self._mutexes[handle].release()

        def mutex_try_lock(handle):
            if not self._mutexes[handle].acquire(blocking=False):
                raise _Status(FAILED)

        return {
            "multiThread": multi_thread,
            "multiThreadNumCPUs": num_cpus,
            "multiThreadIndex": thread_index,
            "multiThreadIsSpawnedThread": is_spawned,
            "mutexCreate": mutex_create,
            "mutexDestroy": mutex_destroy,
            "mutexLock": mutex_lock,
            "mutexUnLock": mutex_unlock,
            "mutexTryLock": mutex_try_lock,
        }


class _Status(Exception):
    """Raised inside a suite function to return a specific (expected) status."""

    def __init__(self, code: int):
        self.code = code


def _unsupported(name: str) -> Callable:
    def fn(*_args):
        raise _Status(ERR_UNSUPPORTED)

    fn.__name__ = name
    return fn


class OfxInstance:
    """One effect instance: render frames, change parameters, destroy."""

    def __init__(self, host: OfxHost, effect: _Effect, size: tuple[int, int], source: InputClip):
        self.host = host
        self.effect = effect
        self.size = size
        self.source = source
        self.outputs: dict[float, np.ndarray] = {}
        self.frames_needed_now: dict[str, list[tuple[int, int]]] | None = None
        self.destroyed = False
        host._current = self

    @property
    def handle(self) -> int:
        return self.host._handle(self.effect)

    def param(self, name: str):
        return self.effect.params[name].value

    def set_param(self, name: str, value, time: float = 1.0) -> None:
        """Change a parameter as a user would: set it, then send InstanceChanged."""
        self.host._current = self
        self.effect.params[name].value = value
        args = PropertySet(
            "args",
            {
                "OfxPropType": "OfxTypeParameter",
                "OfxPropName": name,
                "OfxPropChangeReason": "OfxChangeUserEdited",
                "OfxPropTime": float(time),
                "OfxImageEffectPropRenderScale": [1.0, 1.0],
            },
        )
        self.host._check("OfxActionInstanceChanged", self.effect, args)

    def frames_needed(self, time: float) -> dict[str, list[tuple[int, int]]]:
        """GetFramesNeeded: clip name -> list of inclusive (first, last) ranges."""
        self.host._current = self
        inputs = [n for n, c in self.effect.clips.items() if n != "Output"]
        out = PropertySet(
            "out", {f"OfxImageClipPropFrameRange_{n}": [float(time), float(time)] for n in inputs}
        )
        args = PropertySet("args", {"OfxPropTime": float(time), "OfxImageEffectPropRenderScale": [1.0, 1.0]})
        self.host._check("OfxImageEffectActionGetFramesNeeded", self.effect, args, out)
        result = {}
        for n in inputs:
            values = out.get_all(f"OfxImageClipPropFrameRange_{n}")
            result[n] = [(round(values[i]), round(values[i + 1])) for i in range(0, len(values), 2)]
        return result

    def regions_of_interest(
        self, time: float, region: tuple[float, float, float, float]
    ) -> dict[str, list[float]]:
        """GetRegionsOfInterest for an output `region` (x1, y1, x2, y2): clip name -> the input region it
        needs."""
        self.host._current = self
        inputs = [n for n in self.effect.clips if n != "Output"]
        out = PropertySet("out", {f"OfxImageClipPropRoI_{n}": [float(v) for v in region] for n in inputs})
        args = PropertySet(
            "args",
            {
                "OfxPropTime": float(time),
                "OfxImageEffectPropRenderScale": [1.0, 1.0],
                "OfxImageEffectPropRegionOfInterest": [float(v) for v in region],
            },
        )
        self.host._check("OfxImageEffectActionGetRegionsOfInterest", self.effect, args, out)
        return {n: out.get_all(f"OfxImageClipPropRoI_{n}") for n in inputs}

    def render(self, time: float, window: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """GetFramesNeeded then Render at `time`; returns the Output image (top-down [H, W, 4] float32)."""
        self.host._current = self
        needed = self.frames_needed(time)
        self.frames_needed_now = needed
        width, height = self.size
        x1, y1 = self.source.origin
        window = window or (x1, y1, x1 + width, y1 + height)
        args = PropertySet(
            "args",
            {
                "OfxPropTime": float(time),
                "OfxImageEffectPropFieldToRender": "OfxImageFieldNone",
                "OfxImageEffectPropRenderWindow": list(window),
                "OfxImageEffectPropRenderScale": [1.0, 1.0],
                "OfxImageEffectPropSequentialRenderStatus": 0,
                "OfxImageEffectPropInteractiveRenderStatus": 0,
            },
        )
        self.outputs.pop(time, None)
        self.host.render_time = time
        try:
            status = self.host._call("OfxImageEffectActionRender", self.effect, args)
        finally:
            self.frames_needed_now = None
            self.host.render_time = None
        self.host.stats["renders"] += 1
        if status != OK:
            message = self.host.persistent.get(self.handle, ("", None))[1]
            raise OfxRenderError(status, message)
        if time not in self.outputs:
            raise OfxError("Render returned OK without fetching and releasing the Output image")
        if self.source.depth in SCALE:
            return self.outputs[time].astype(np.float32) / np.float32(SCALE[self.source.depth])
        return self.outputs[time].astype(np.float32, copy=False)

    @property
    def message(self) -> tuple[str, str] | None:
        """The effect's current persistent message (type, text), or None."""
        return self.host.persistent.get(self.handle)

    def purge_caches(self) -> None:
        self.host._current = self
        self.host._check("OfxActionPurgeCaches", self.effect)

    def destroy(self) -> None:
        """DestroyInstance; then every image must have been released and every memory block freed."""
        if self.destroyed:
            return
        self.host._current = self
        self.host._check("OfxActionDestroyInstance", self.effect)
        self.destroyed = True
        leaks = []
        if self.host.live_images:
            leaks.append(f"{len(self.host.live_images)} images not released")
        if self.host.live_memory:
            leaks.append(
                f"{len(self.host.live_memory)} memory blocks ({sum(self.host.live_memory.values())} bytes) "
                "not freed"
            )
        if leaks:
            raise OfxError("after DestroyInstance: " + "; ".join(leaks))
