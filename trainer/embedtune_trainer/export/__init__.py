"""ONNX export of a model folder: the graph the server runs, and its int8 variant."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

ONNX_DIR = "onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model_qint8.onnx"


def export_model_folder(
    model: str | Path,
    output: str | Path | None = None,
    quantize: bool = False,
    on_written: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Export `model` to `<folder>/onnx/`; returns the files written.

    `on_written(path)` is called after each ONNX file is complete (fp32, then int8).

    A cross-encoder folder (`cross_encoder.folder.is_cross_encoder_folder`) exports its
    logits graph and gets the facts a torch-free runtime needs merged into its
    embedtune.json (kind, num_labels, activation, max_seq_length, version); anything
    else exports as a sentence encoder, whose graph alone says what the server needs.

    With `output`, the model (a folder, Hub id or "default") is first saved there in the
    sentence-transformers format, so the result is a complete model version folder.
    Without it, `model` must be a local folder and the export is written into it.
    """
    from embedtune_trainer.export.calibration import calibration_batches
    from embedtune_trainer.export.onnx_graph import export_onnx
    from embedtune_trainer.export.quantize import quantize_int8
    from embedtune_trainer.model_kind import ModelKind
    from embedtune_trainer.models import load_model
    from embedtune_trainer.record import model_facts, read_record, write_record
    from embedtune_trainer.st_format import resolve_model_path

    if output is None and not Path(model).is_dir():
        resolve_model_path(model)  # a precise error for a missing folder
        raise ValueError(f"{model!r} is not a local model folder; pass output= (--output) to export a copy")
    loaded = load_model(model)
    steps = 1 + (1 if quantize else 0) + (1 if output else 0)
    with tqdm(total=steps, desc="Export", unit="step") as progress:
        if output is not None:
            folder = Path(output)
            loaded.save(folder)
            progress.update()
        else:
            folder = Path(model)
        fp32 = export_onnx(loaded, folder / ONNX_DIR / FP32_FILE)
        written = [fp32]
        progress.update()
        if on_written is not None:
            on_written(fp32)
        if quantize:
            int8 = quantize_int8(fp32, folder / ONNX_DIR / INT8_FILE, calibration_batches(loaded))
            written.append(int8)
            progress.update()
            if on_written is not None:
                on_written(int8)
    if loaded.kind is ModelKind.CROSS_ENCODER:
        record = read_record(folder)
        record = {**record, **model_facts(loaded), "version": record.get("version") or folder.resolve().name}
        written.append(write_record(folder, record))
    return written
