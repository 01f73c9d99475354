"""Recognise clothes in photos with fastai: DeepFashion categories and attributes, your own photos, and fastai-free export.

Modules:

- `fashion_fastai.catalogue`: `predict_catalogue`: every image under a folder (or listed in a file) through an export folder's model into a CSV or Parquet table — a progress bar in images/s, decoding overlapped with the model, unreadable images as rows with their error, and a rerun that carries on where a killed one stopped. fastai-free, like `Predictor`.
- `fashion_fastai.quantize`: `quantize_onnx`: an int8 copy of an export folder's `model.onnx` (ONNX Runtime static quantization, calibrated on training images), chosen with `Predictor(backend='onnx', int8=True)` or `predict --onnx --int8`. fastai-free."""

__version__ = "0.0.1"
