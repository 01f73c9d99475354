"""int8 calibration methods compared without looking at the split that is reported.

For each `quantize_onnx` calibration method (percentile, minmax, entropy), in a copy of one export folder: quantize on
the default draw of training images (never the images the model was validated on), then measure how often the int8
model gives the float32 ONNX model's answer, head by head, on other training images (no labels needed: this is what
chooses a method), and last the accuracy drop on `--split` (reported, not used to choose). One JSON line per method.

Usage: python benchmarks/int8_calibration.py --model DIR [--split holdout] [--n-agree 500] [--methods percentile minmax entropy]
"""
import argparse, json, shutil, tempfile, time
from pathlib import Path
import numpy as np
from fashion_fastai.evaluation import evaluate, dataset_split, data_of
from fashion_fastai.export_format import ONNX, VALID, read_config
from fashion_fastai.inference import Predictor, export_onnx
from fashion_fastai.quantize import quantize_onnx, calibration_images
from cpu_inference import accuracy     # its sibling script (benchmarks/ is on the path when run as a script): one reading of evaluate's metric


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True); ap.add_argument('--split', default='holdout')
    ap.add_argument('--n-agree', type=int, default=500); ap.add_argument('--calibration-n', type=int, default=300)
    ap.add_argument('--methods', nargs='+', default=['percentile', 'minmax', 'entropy'])
    a = ap.parse_args()
    m = Path(a.model)
    if not (m/ONNX).exists(): export_onnx(m)
    f32 = Predictor(m, device='cpu', backend='onnx')
    data = data_of(f32, None)
    cal = set(calibration_images(m, n=a.calibration_n))
    held = set(dataset_split(data, 'holdout', m).path.astype(str)) if (m/VALID).exists() else set()
    pool = [p for p in dataset_split(data, 'train').path.astype(str) if p not in cal and p not in held]
    rng = np.random.default_rng(1)
    agree_imgs = [pool[i] for i in sorted(rng.choice(len(pool), min(a.n_agree, len(pool)), replace=False))]
    ref = f32.probs(agree_imgs)
    base = accuracy(evaluate(f32, data, a.split))
    print(json.dumps(dict(model=str(m), split=a.split, onnx_fp32_accuracy=round(base, 4), agreement_images=len(agree_imgs),
                          calibration_images=len(cal), calibration_overlaps_split=len(cal & held))), flush=True)
    for method in a.methods:
        with tempfile.TemporaryDirectory() as d:
            c = Path(shutil.copytree(m, Path(d)/'m', ignore=shutil.ignore_patterns('models', '*.int8.onnx')))
            t = time.perf_counter(); quantize_onnx(c, n=a.calibration_n, calibrate=method); q_s = time.perf_counter() - t
            i8 = Predictor(c, device='cpu', backend='onnx', int8=True)
            got = i8.probs(agree_imgs)
            agree = {h: round(float((ref[h].argmax(1) == got[h].argmax(1)).mean()), 4) for h in ref}
            acc = accuracy(evaluate(i8, data, a.split))
        print(json.dumps(dict(method=method, agreement_mean=round(float(np.mean(list(agree.values()))), 4), agreement=agree,
                              **{f'{a.split}_accuracy': round(acc, 4), f'{a.split}_drop_points': round(100*(base - acc), 2)},
                              quantize_s=round(q_s, 1))), flush=True)
