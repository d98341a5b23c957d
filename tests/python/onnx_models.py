"""Tiny ONNX models built at test time with the ``onnx`` package."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def linear_policy(
    weights: np.ndarray,
    bias: np.ndarray,
    *,
    input_name: str = "obs",
    output_name: str = "logits",
    input_shape: Sequence[int | str] = ("batch", 0),
    element_type: int = TensorProto.FLOAT,
    extra_input: str | None = None,
    initializers_as_inputs: bool = False,
) -> bytes:
    """``logits = obs @ weights + bias``: one MatMul and one Add, weights as initializers.

    A 0 in ``input_shape`` stands for the observation size (``weights.shape[0]``).
    ``extra_input`` adds a second graph input (and output); ``initializers_as_inputs`` lists
    the weights among the graph inputs too, as exporters for IR version < 4 did.
    """
    size, actions = weights.shape
    shape = [size if d == 0 else d for d in input_shape]
    out_shape = [*shape[:-1], actions] if shape else None
    inputs = [helper.make_tensor_value_info(input_name, element_type, shape)]
    nodes = [
        helper.make_node("MatMul", [input_name, "W"], ["hidden"]),
        helper.make_node("Add", ["hidden", "b"], [output_name]),
    ]
    if extra_input:
        inputs.append(helper.make_tensor_value_info(extra_input, TensorProto.FLOAT, [1]))
        nodes.append(helper.make_node("Identity", [extra_input], ["extra_out"]))
    if initializers_as_inputs:
        inputs.append(helper.make_tensor_value_info("W", TensorProto.FLOAT, list(weights.shape)))
        inputs.append(helper.make_tensor_value_info("b", TensorProto.FLOAT, list(bias.shape)))
    outputs = [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, out_shape)]
    if extra_input:
        outputs.append(helper.make_tensor_value_info("extra_out", TensorProto.FLOAT, [1]))
    graph = helper.make_graph(
        nodes,
        "linear_policy",
        inputs,
        outputs,
        [
            numpy_helper.from_array(weights.astype(np.float32), "W"),
            numpy_helper.from_array(bias.astype(np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if element_type == TensorProto.FLOAT:
        onnx.checker.check_model(model)
    return model.SerializeToString()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
