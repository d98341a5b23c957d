"""OnnxPolicy: an AI agent whose actions come from an ONNX model run in the participant's browser.

In a game scene's agents::

    GymScene("duel", env_file="physics_duel.py",
             agents={0: "human", 1: OnnxPolicy("policy.onnx")})

Each tick the agent's observation is flattened to float32 numbers in the shape of the model's
input (nested lists in order, dicts by sorted key), the model runs with onnxruntime-web inside
the Pyodide worker, and the action is the argmax of the output (``action="argmax"``), a draw
from its softmax (``"sample"``, seeded per participant) or the output itself (``"raw"``: a
number, or a list of numbers for continuous actions).

The model file is read and checked when the study loads (inputs, outputs, element type,
shape), and served to the browser at a URL derived from its content
(:class:`~interactive_gym.study.served_file.ServedFile`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interactive_gym.study.errors import StudyError
from interactive_gym.study.onnx_model import (
    FLOAT32,
    OnnxFormatError,
    TensorInfo,
    read_model_info,
)
from interactive_gym.study.options import check_file, check_str, describe
from interactive_gym.study.served_file import ServedFile

ACTION_MODES = ("argmax", "sample", "raw")


class OnnxPolicy:
    """An ONNX model choosing an agent's actions.

    Args:
        model_file: the ``.onnx`` file, relative to the study file's folder.
        input_name: the model input that receives the observation; default: its only input.
        output_name: the model output the action is read from; default: its only output.
        action: ``"argmax"`` (index of the largest output), ``"sample"`` (an index drawn from
            the softmax of the output) or ``"raw"`` (the output values themselves).
        shape: the input shape, when the model leaves more than one dimension open (e.g.
            ``[1, 12]``); by default the model's, with its one open (batch) dimension set to 1.
    """

    def __init__(
        self,
        model_file: str | Path,
        input_name: str | None = None,
        output_name: str | None = None,
        action: str = "argmax",
        *,
        shape: list[int] | tuple[int, ...] | None = None,
    ) -> None:
        where = f"OnnxPolicy({str(model_file)!r})"
        if not isinstance(model_file, str | Path) or not str(model_file):
            raise StudyError(where, f"model_file must be a file path, got {describe(model_file)}")
        self.model_file = model_file
        self.input_name = check_str(where, "input_name", input_name, optional=True)
        self.output_name = check_str(where, "output_name", output_name, optional=True)
        if action not in ACTION_MODES:
            raise StudyError(
                where, f"action must be one of {', '.join(ACTION_MODES)}, got {describe(action)}"
            )
        self.action = action
        if shape is not None and (
            not isinstance(shape, list | tuple)
            or not shape
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
        ):
            raise StudyError(
                where, f"shape must be a list of positive whole numbers, got {describe(shape)}"
            )
        self.declared_shape = tuple(shape) if shape is not None else None
        self.file: ServedFile | None = None
        self.input: str | None = None
        self.output: str | None = None
        self.shape: tuple[int, ...] | None = None

    def __repr__(self) -> str:
        return f"OnnxPolicy({str(self.model_file)!r}, action={self.action!r})"

    def load(self, base_dir: Path, where: str) -> None:
        """Read and check the model; ``where`` names the agent in errors (``...agents[1]``)."""
        path = check_file(where, "model_file", self.model_file, base_dir)
        data = path.read_bytes()
        try:
            info = read_model_info(data)
        except OnnxFormatError as error:
            raise StudyError(
                where,
                f"model_file {str(self.model_file)!r} cannot be read as an ONNX model: {error}",
                "export the policy with torch.onnx.export or build it with the onnx package",
            ) from error
        model_input = self._pick(where, "input", self.input_name, info.inputs)
        model_output = self._pick(where, "output", self.output_name, info.outputs)
        if model_input.element_type not in (FLOAT32, None):
            raise StudyError(
                where,
                f"input {model_input.name!r} of {path.name} takes {model_input.type_name} "
                "tensors; ONNX policies feed float32 observations",
                "export the model with a float32 input",
            )
        self.shape = self._input_shape(where, model_input, path.name)
        self.input, self.output = model_input.name, model_output.name
        self.file = ServedFile(path.name, data)

    def served_files(self) -> list[ServedFile]:
        """The model file, for the server to serve (empty until :meth:`load`)."""
        return [self.file] if self.file is not None else []

    def to_client(self, seed: int | None = None) -> dict[str, Any]:
        """The agent's entry for the browser (``static/js/worker/onnx_policies.js``)."""
        if self.file is None:
            raise StudyError(repr(self), "the model file was not read", "call load() first")
        return {
            "kind": "onnx",
            "modelURL": self.file.url,
            "model": self.file.name,
            "inputName": self.input,
            "outputName": self.output,
            "action": self.action,
            "shape": list(self.shape or ()),
            "seed": seed,
        }

    # checks ---------------------------------------------------------------------------------

    def _pick(
        self, where: str, kind: str, declared: str | None, tensors: tuple[TensorInfo, ...]
    ) -> TensorInfo:
        names = [t.name for t in tensors]
        listed = ", ".join(repr(n) for n in names) or "none"
        if declared is not None:
            for tensor in tensors:
                if tensor.name == declared:
                    return tensor
            raise StudyError(
                where,
                f"{kind}_name {declared!r}: the model {self.model_file} has no such {kind}",
                f"its {kind}s are {listed}",
            )
        if len(tensors) != 1:
            raise StudyError(
                where,
                f"the model {self.model_file} has {len(tensors)} {kind}s ({listed})",
                f"choose one with {kind}_name=...",
            )
        return tensors[0]

    def _input_shape(self, where: str, tensor: TensorInfo, file_name: str) -> tuple[int, ...]:
        model_shape = tensor.shape
        if self.declared_shape is not None:
            if model_shape and (
                len(model_shape) != len(self.declared_shape)
                or any(
                    isinstance(m, int) and m > 0 and m != d
                    for m, d in zip(model_shape, self.declared_shape, strict=True)
                )
            ):
                raise StudyError(
                    where,
                    f"shape {list(self.declared_shape)} does not fit input {tensor.name!r} of "
                    f"{file_name}, whose shape is {list(model_shape)}",
                    "give a shape with the same number of dimensions and the same fixed sizes",
                )
            return self.declared_shape
        if not model_shape:
            raise StudyError(
                where,
                f"input {tensor.name!r} of {file_name} has no declared shape",
                "give the input shape, e.g. shape=[1, 12]",
            )
        open_dims = [d for d in model_shape if not (isinstance(d, int) and d > 0)]
        if len(open_dims) > 1:
            raise StudyError(
                where,
                f"input {tensor.name!r} of {file_name} has shape {list(model_shape)}, with "
                f"{len(open_dims)} open dimensions",
                "give the input shape, e.g. shape=[1, 12]",
            )
        return tuple(d if isinstance(d, int) and d > 0 else 1 for d in model_shape)
