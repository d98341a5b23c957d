"""Read the inputs and outputs of an ONNX model file, without the ``onnx`` package.

An ONNX file is a protocol buffer (``ModelProto``). This reads only what a study needs to
check an :class:`~interactive_gym.study.onnx_policy.OnnxPolicy` when it loads: the graph's
input and output names, their element types and shapes. Field numbers are those of
``onnx/onnx.proto``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

#: TensorProto.DataType values by name, for messages.
ELEMENT_TYPES = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool",
                 10: "float16", 11: "float64"}  # fmt: skip
FLOAT32 = 1


class OnnxFormatError(ValueError):
    """The bytes are not an ONNX model this reader understands."""


@dataclass(frozen=True)
class TensorInfo:
    """One graph input or output: its name, element type and shape (``str`` = symbolic)."""

    name: str
    element_type: int | None
    shape: tuple[int | str, ...] | None

    @property
    def type_name(self) -> str:
        if self.element_type is None:
            return "unknown"
        return ELEMENT_TYPES.get(self.element_type, f"type {self.element_type}")


@dataclass(frozen=True)
class ModelInfo:
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]


def read_model_info(data: bytes) -> ModelInfo:
    """The inputs (initializers excluded) and outputs of the model's main graph."""
    graph = None
    for number, value in _fields(data):
        if number == 7 and isinstance(value, bytes):
            graph = value
    if graph is None:
        raise OnnxFormatError("no graph found: this is not an ONNX model")
    inputs: list[TensorInfo] = []
    outputs: list[TensorInfo] = []
    initializers: set[str] = set()
    for number, value in _fields(graph):
        if not isinstance(value, bytes):
            continue
        if number == 11:
            inputs.append(_value_info(value))
        elif number == 12:
            outputs.append(_value_info(value))
        elif number == 5:  # TensorProto initializer: name is field 8
            initializers.update(_string(v) for n, v in _fields(value) if n == 8)
    if not outputs:
        raise OnnxFormatError("the graph has no outputs: this is not an ONNX model")
    return ModelInfo(tuple(i for i in inputs if i.name not in initializers), tuple(outputs))


def _value_info(data: bytes) -> TensorInfo:
    name, element_type, shape = "", None, None
    for number, value in _fields(data):
        if number == 1 and isinstance(value, bytes):
            name = _string(value)
        elif number == 2 and isinstance(value, bytes):  # TypeProto: tensor_type is field 1
            for n, tensor in _fields(value):
                if n == 1 and isinstance(tensor, bytes):
                    element_type, shape = _tensor_type(tensor)
    return TensorInfo(name, element_type, shape)


def _tensor_type(data: bytes) -> tuple[int | None, tuple[int | str, ...] | None]:
    element_type, shape = None, None
    for number, value in _fields(data):
        if number == 1 and isinstance(value, int):
            element_type = value
        elif number == 2 and isinstance(value, bytes):
            dims: list[int | str] = []
            for n, dim in _fields(value):
                if n == 1 and isinstance(dim, bytes):
                    dims.append(_dimension(dim))
            shape = tuple(dims)
    return element_type, shape


def _dimension(data: bytes) -> int | str:
    for number, value in _fields(data):
        if number == 1 and isinstance(value, int):
            return value - (1 << 64) if value >= 1 << 63 else value  # int64 on the wire
        if number == 2 and isinstance(value, bytes):
            return _string(value)
    return "?"


def _string(value: object) -> str:
    if not isinstance(value, bytes):
        raise OnnxFormatError("a name field is not a string")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as error:
        raise OnnxFormatError("a name is not valid UTF-8") from error


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """``(field number, value)`` of a protobuf message: ints for varints, bytes otherwise."""
    position, end = 0, len(data)
    while position < end:
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise OnnxFormatError("field number 0: this is not an ONNX model")
        if wire == 0:
            value, position = _varint(data, position)
            yield number, value
        elif wire == 2:
            length, position = _varint(data, position)
            if position + length > end:
                raise OnnxFormatError("a field runs past the end of the file (truncated?)")
            yield number, data[position : position + length]
            position += length
        elif wire in (1, 5):
            position += 8 if wire == 1 else 4
            if position > end:
                raise OnnxFormatError("a field runs past the end of the file (truncated?)")
        else:
            raise OnnxFormatError(f"unknown wire type {wire}: this is not an ONNX model")


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise OnnxFormatError("a number is cut off (truncated file?)")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
