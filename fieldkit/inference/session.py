"""The one place that creates onnxruntime sessions, so threads and optimisation are set once."""

from __future__ import annotations

import os
from pathlib import Path

from fieldkit.config import physical_cores
from fieldkit.errors import ModelError


def create_session(model: str | os.PathLike | bytes, *, threads: int | None = None,
                   custom_ops: bool = False, label: str = "model",
                   disabled_optimizers: list[str] | None = None):
    """An onnxruntime CPU session: intra-op threads = physical cores, full graph optimisation.

    Sequential execution with one inter-op thread: on 2-4 core laptops spreading work over
    more threads than cores only adds contention. `disabled_optimizers` names onnxruntime
    fusions to skip where measurement showed the fused kernel slower.
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or physical_cores()
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    # spinning threads burn a core between calls; we feed batches back to back anyway
    so.add_session_config_entry("session.intra_op.allow_spinning", "1")
    if custom_ops:
        try:
            from onnxruntime_extensions import get_library_path
        except ImportError as e:
            raise ModelError(f"{label} needs onnxruntime-extensions, which is not installed",
                             "pip install onnxruntime-extensions") from e
        so.register_custom_ops_library(get_library_path())
    source = str(model) if isinstance(model, (str, Path, os.PathLike)) else model
    try:
        return ort.InferenceSession(source, so, providers=["CPUExecutionProvider"],
                                    disabled_optimizers=disabled_optimizers or None)
    except Exception as e:  # onnxruntime raises its own exception types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"cannot load {label}: {first}",
                         "run `fieldkit models verify`; reinstall with `fieldkit models prepare`") from e
