"""int8 settings compared without looking at the split that is reported: calibration methods and weight types.

For each `quantize_onnx` calibration method (percentile, minmax, entropy) and weight type (uint8, int8), in a copy of
one export folder: quantize on the default draw of training images (never the images the model was validated on), then
measure how often the int8 model gives the float32 ONNX model's answer, head by head, on other training images (no
labels needed: this is what chooses), the accuracy drop on `--split` (reported, not used to choose), and with `--speed`
the model alone in images/s against float32 ONNX Runtime in the same process (preprocessed batches, no TTA; run it on
an idle machine). One JSON line per setting. `--n-agree 0` and `--split none` leave those measurements out.

Usage: python benchmarks/int8_calibration.py --model DIR [--split holdout] [--n-agree 500] [--methods percentile minmax entropy]
       [--weight-types int8 uint8] [--speed]   (default: int8, the library's default)
"""
import argparse, json, shutil, tempfile, time
from pathlib import Path
import numpy as np
from fashion_fastai.evaluation import evaluate, dataset_split, data_of
from fashion_fastai.export_format import ONNX, VALID, read_config
from fashion_fastai.inference import Predictor, export_onnx
from fashion_fastai.quantize import quantize_onnx, calibration_images
from cpu_inference import accuracy, model_alone, cpu_name     # its sibling script (benchmarks/ is on the path when run as a script): one reading of evaluate's metric


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True); ap.add_argument('--split', default='holdout')
    ap.add_argument('--n-agree', type=int, default=500); ap.add_argument('--calibration-n', type=int, default=300)
    ap.add_argument('--methods', nargs='+', default=['percentile', 'minmax', 'entropy'])
    ap.add_argument('--weight-types', nargs='+', default=['int8'], choices=['int8', 'uint8'])
    ap.add_argument('--speed', action='store_true'); ap.add_argument('--repeats', type=int, default=5)
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
    ref = f32.probs(agree_imgs) if agree_imgs else None
    base = accuracy(evaluate(f32, data, a.split)) if a.split != 'none' else None
    x = f32.preprocess.batch([f32.preprocess.item(f) for f in (agree_imgs or pool)[:64]]) if a.speed else None
    fp32_speed = {bs: model_alone(f32, x, bs, a.repeats) for bs in (1, 32)} if a.speed else {}
    print(json.dumps(dict(model=str(m), cpu=cpu_name(), split=a.split, onnx_fp32_accuracy=base and round(base, 4), agreement_images=len(agree_imgs),
                          calibration_images=len(cal), calibration_overlaps_split=len(cal & held),
                          **({'onnx_fp32_images_per_s': fp32_speed} if a.speed else {}))), flush=True)
    for method in a.methods:
        for wt in a.weight_types:
            r = dict(method=method, weight_type=wt)
            with tempfile.TemporaryDirectory() as d:
                c = Path(shutil.copytree(m, Path(d)/'m', ignore=shutil.ignore_patterns('models', '*.int8.onnx')))
                t = time.perf_counter(); quantize_onnx(c, n=a.calibration_n, calibrate=method, weight_type=wt); r['quantize_s'] = round(time.perf_counter() - t, 1)
                i8 = Predictor(c, device='cpu', backend='onnx', int8=True)
                if ref:
                    got = i8.probs(agree_imgs)
                    agree = {h: round(float((ref[h].argmax(1) == got[h].argmax(1)).mean()), 4) for h in ref}
                    r.update(agreement_mean=round(float(np.mean(list(agree.values()))), 4), agreement=agree)
                if base is not None:
                    acc = accuracy(evaluate(i8, data, a.split))
                    r.update({f'{a.split}_accuracy': round(acc, 4), f'{a.split}_drop_points': round(100*(base - acc), 2)})
                if a.speed:         # float32 timed again beside each: the ratio compares like with like
                    sp = {bs: model_alone(i8, x, bs, a.repeats) for bs in (1, 32)}
                    again = {bs: model_alone(f32, x, bs, a.repeats) for bs in (1, 32)}
                    r.update(images_per_s=sp, onnx_fp32_images_per_s=again, over_fp32={bs: round(sp[bs]/again[bs], 3) for bs in sp})
            print(json.dumps(r), flush=True)
