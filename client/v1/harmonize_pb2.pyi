from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DTYPE_UNSPECIFIED: _ClassVar[DType]
    DTYPE_FLOAT16: _ClassVar[DType]
    DTYPE_FLOAT32: _ClassVar[DType]

class MatteSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MATTE_SOURCE_UNSPECIFIED: _ClassVar[MatteSource]
    MATTE_SEPARATE: _ClassVar[MatteSource]
    MATTE_ALPHA: _ClassVar[MatteSource]
    MATTE_AUTO: _ClassVar[MatteSource]

class Plane(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLANE_UNSPECIFIED: _ClassVar[Plane]
    PLANE_IMAGE: _ClassVar[Plane]
    PLANE_MATTE: _ClassVar[Plane]
DTYPE_UNSPECIFIED: DType
DTYPE_FLOAT16: DType
DTYPE_FLOAT32: DType
MATTE_SOURCE_UNSPECIFIED: MatteSource
MATTE_SEPARATE: MatteSource
MATTE_ALPHA: MatteSource
MATTE_AUTO: MatteSource
PLANE_UNSPECIFIED: Plane
PLANE_IMAGE: Plane
PLANE_MATTE: Plane

class FrameFormat(_message.Message):
    __slots__ = ("width", "height", "channels", "dtype", "channel_names", "colorspace")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_NAMES_FIELD_NUMBER: _ClassVar[int]
    COLORSPACE_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    channels: int
    dtype: DType
    channel_names: _containers.RepeatedScalarFieldContainer[str]
    colorspace: str
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., channels: _Optional[int] = ..., dtype: _Optional[_Union[DType, str]] = ..., channel_names: _Optional[_Iterable[str]] = ..., colorspace: _Optional[str] = ...) -> None: ...

class OptionValue(_message.Message):
    __slots__ = ("number", "integer", "flag", "choice")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    INTEGER_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    CHOICE_FIELD_NUMBER: _ClassVar[int]
    number: float
    integer: int
    flag: bool
    choice: str
    def __init__(self, number: _Optional[float] = ..., integer: _Optional[int] = ..., flag: _Optional[bool] = ..., choice: _Optional[str] = ...) -> None: ...

class StreamHeader(_message.Message):
    __slots__ = ("model", "options", "format", "matte_source", "ocio_config", "strength", "frame_count", "first_frame", "client_name")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: OptionValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[OptionValue, _Mapping]] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    MATTE_SOURCE_FIELD_NUMBER: _ClassVar[int]
    OCIO_CONFIG_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_FRAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    model: str
    options: _containers.MessageMap[str, OptionValue]
    format: FrameFormat
    matte_source: MatteSource
    ocio_config: str
    strength: float
    frame_count: int
    first_frame: int
    client_name: str
    def __init__(self, model: _Optional[str] = ..., options: _Optional[_Mapping[str, OptionValue]] = ..., format: _Optional[_Union[FrameFormat, _Mapping]] = ..., matte_source: _Optional[_Union[MatteSource, str]] = ..., ocio_config: _Optional[str] = ..., strength: _Optional[float] = ..., frame_count: _Optional[int] = ..., first_frame: _Optional[int] = ..., client_name: _Optional[str] = ...) -> None: ...

class Chunk(_message.Message):
    __slots__ = ("frame_index", "plane", "offset", "data")
    FRAME_INDEX_FIELD_NUMBER: _ClassVar[int]
    PLANE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    frame_index: int
    plane: Plane
    offset: int
    data: bytes
    def __init__(self, frame_index: _Optional[int] = ..., plane: _Optional[_Union[Plane, str]] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class HarmonizeRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: StreamHeader
    chunk: Chunk
    def __init__(self, header: _Optional[_Union[StreamHeader, _Mapping]] = ..., chunk: _Optional[_Union[Chunk, _Mapping]] = ...) -> None: ...

class StreamAccepted(_message.Message):
    __slots__ = ("model", "window", "format", "stream_id")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    model: str
    window: int
    format: FrameFormat
    stream_id: str
    def __init__(self, model: _Optional[str] = ..., window: _Optional[int] = ..., format: _Optional[_Union[FrameFormat, _Mapping]] = ..., stream_id: _Optional[str] = ...) -> None: ...

class HarmonizeResponse(_message.Message):
    __slots__ = ("accepted", "chunk")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    accepted: StreamAccepted
    chunk: Chunk
    def __init__(self, accepted: _Optional[_Union[StreamAccepted, _Mapping]] = ..., chunk: _Optional[_Union[Chunk, _Mapping]] = ...) -> None: ...

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class OptionSpec(_message.Message):
    __slots__ = ("name", "kind", "default_value", "help", "minimum", "maximum", "choices")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    HELP_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    default_value: OptionValue
    help: str
    minimum: float
    maximum: float
    choices: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., default_value: _Optional[_Union[OptionValue, _Mapping]] = ..., help: _Optional[str] = ..., minimum: _Optional[float] = ..., maximum: _Optional[float] = ..., choices: _Optional[_Iterable[str]] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "aliases", "window", "input_height", "input_width", "supports_auto_matte", "checkpoint", "options")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    INPUT_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    INPUT_WIDTH_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_AUTO_MATTE_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    window: int
    input_height: int
    input_width: int
    supports_auto_matte: bool
    checkpoint: str
    options: _containers.RepeatedCompositeFieldContainer[OptionSpec]
    def __init__(self, name: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., window: _Optional[int] = ..., input_height: _Optional[int] = ..., input_width: _Optional[int] = ..., supports_auto_matte: _Optional[bool] = ..., checkpoint: _Optional[str] = ..., options: _Optional[_Iterable[_Union[OptionSpec, _Mapping]]] = ...) -> None: ...

class DeviceInfo(_message.Message):
    __slots__ = ("name", "description", "memory_bytes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    memory_bytes: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., memory_bytes: _Optional[int] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_width", "max_height", "max_channels", "max_message_bytes", "max_chunk_bytes", "max_clients", "max_batch", "max_frames")
    MAX_WIDTH_FIELD_NUMBER: _ClassVar[int]
    MAX_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    MAX_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_CLIENTS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAMES_FIELD_NUMBER: _ClassVar[int]
    max_width: int
    max_height: int
    max_channels: int
    max_message_bytes: int
    max_chunk_bytes: int
    max_clients: int
    max_batch: int
    max_frames: int
    def __init__(self, max_width: _Optional[int] = ..., max_height: _Optional[int] = ..., max_channels: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., max_chunk_bytes: _Optional[int] = ..., max_clients: _Optional[int] = ..., max_batch: _Optional[int] = ..., max_frames: _Optional[int] = ...) -> None: ...

class ServerInfo(_message.Message):
    __slots__ = ("api_version", "server_version", "torch_version", "grpc_version", "device", "models", "default_model", "default_ocio_config", "dtypes", "limits")
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    TORCH_VERSION_FIELD_NUMBER: _ClassVar[int]
    GRPC_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MODEL_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_OCIO_CONFIG_FIELD_NUMBER: _ClassVar[int]
    DTYPES_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    api_version: str
    server_version: str
    torch_version: str
    grpc_version: str
    device: DeviceInfo
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    default_model: str
    default_ocio_config: str
    dtypes: _containers.RepeatedScalarFieldContainer[DType]
    limits: Limits
    def __init__(self, api_version: _Optional[str] = ..., server_version: _Optional[str] = ..., torch_version: _Optional[str] = ..., grpc_version: _Optional[str] = ..., device: _Optional[_Union[DeviceInfo, _Mapping]] = ..., models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., default_model: _Optional[str] = ..., default_ocio_config: _Optional[str] = ..., dtypes: _Optional[_Iterable[_Union[DType, str]]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ...) -> None: ...
