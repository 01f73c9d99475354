"""Inference on the CPU, in one run on one trained export folder: throughput by batch size and memory layout, bfloat16
and int8 against float32 (speed and the accuracy each keeps on a labelled split), and a catalogue predicted end to end
against its parts (decoding alone, the model alone).

Everything is measured in this process, one after the other, so the ratios compare like with like. Model-alone figures
take preprocessed batches (no decoding) and run each head once (no TTA); accuracy figures run the model as it was
trained (with mirror TTA if its recipe used it), as `fashion-fastai evaluate` does. Run alone on an idle machine.

Usage: python benchmarks/cpu_inference.py --model DIR [--data DIR] [--split val] [--n 256] [--repeats 3] [--calibration-n 300]
"""
import argparse, json, os, platform, tempfile, time, timeit
from pathlib import Path
import numpy as np
import torch
from fashion_fastai.evaluation import evaluate, dataset_split, data_of
from fashion_fastai.export_format import ONNX, ONNX_INT8, read_config
from fashion_fastai.inference import Predictor, export_onnx, bf16_supported
from fashion_fastai.catalogue import predict_catalogue

def best_of(f, repeats):
    "The fastest of `repeats` timed calls of `f`, after one to warm up"
    f()
    return min(timeit.repeat(f, number=1, repeat=repeats))

def cpu_name():
    for l in Path('/proc/cpuinfo').read_text().splitlines() if Path('/proc/cpuinfo').exists() else []:
        if l.startswith('model name'): return l.split(':', 1)[1].strip()
    return platform.processor()

def model_alone(p, x, bs, repeats):
    "images/s of `p`'s model on preprocessed batches of `bs` (no TTA)"
    tta,p.tta = p.tta,False
    n = len(x)
    def run():
        for i in range(0, n, bs): p.logits(x[i:i+bs])
    t = best_of(run, repeats)
    p.tta = tta
    return round(n/t, 1)

def accuracy(res):
    return res.get('mean_accuracy', res.get('accuracy'))

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True); ap.add_argument('--data'); ap.add_argument('--split', default='val')
    ap.add_argument('--n', type=int, default=256, help='images in the throughput batches and the catalogue (the split, repeated)')
    ap.add_argument('--repeats', type=int, default=3); ap.add_argument('--calibration-n', type=int, default=300)
    a = ap.parse_args()
    m = Path(a.model)
    cfg = read_config(m)
    torch_p = Predictor(m, device='cpu')
    data = data_of(torch_p, a.data)
    files = dataset_split(data, a.split, m).path.astype(str).tolist()   # holdout: the images the model was validated on
    print(json.dumps(dict(cpu=cpu_name(), cores=os.cpu_count(), torch=torch.__version__, threads=torch.get_num_threads(),
                          capability=torch.backends.cpu.get_cpu_capability(), bf16_supported=bf16_supported(),
                          model=str(m), arch=cfg['model']['body']['arch'], size=cfg['input']['size'], tta=torch_p.tta,
                          data=str(data), split=a.split, n_split=len(files))), flush=True)
    sample = [files[i % len(files)] for i in range(a.n)]

    # 1. decoding alone, then the model alone by batch size and layout
    t = time.perf_counter(); items = [torch_p.preprocess.item(f) for f in sample]; dec_s = time.perf_counter() - t
    x = torch_p.preprocess.batch(items)
    decode_ips = round(a.n/dec_s, 1)
    rows = {}
    for bs in (1, 2, 4, 8, 16, 32): rows[f'nhwc_bs{bs}'] = model_alone(torch_p, x, bs, a.repeats)
    nchw = Predictor(m, device='cpu', channels_last=False)
    for bs in (1, 8, 32): rows[f'nchw_bs{bs}'] = model_alone(nchw, x, bs, a.repeats)
    print(json.dumps(dict(step='decode and presize, one thread', images_per_s=decode_ips)), flush=True)
    print(json.dumps(dict(step='torch float32 model alone, images/s by layout and batch size', **rows)), flush=True)

    # 2. bfloat16 (where the CPU has it), ONNX Runtime float32 and int8
    speed, acc = {'torch_fp32': max(v for k,v in rows.items() if k.startswith('nhwc'))}, {}
    acc['torch_fp32'] = evaluate(torch_p, data, a.split)
    if bf16_supported():
        bf = Predictor(m, device='cpu', bf16=True)
        speed['torch_bf16'] = max(model_alone(bf, x, bs, a.repeats) for bs in (1, 8, 32))
        acc['torch_bf16'] = evaluate(bf, data, a.split)
    if not (m/ONNX).exists(): export_onnx(m)
    if not (m/ONNX_INT8).exists():
        from fashion_fastai.quantize import quantize_onnx
        t = time.perf_counter(); quantize_onnx(m, n=a.calibration_n)
        print(json.dumps(dict(step='quantize_onnx', seconds=round(time.perf_counter() - t, 1), calibration_n=a.calibration_n)), flush=True)
    for name,kw in (('onnx_fp32', {}), ('onnx_int8', dict(int8=True))):
        p = Predictor(m, device='cpu', backend='onnx', **kw)
        by_bs = {bs: model_alone(p, x, bs, a.repeats) for bs in (1, 8, 32)}
        print(json.dumps(dict(step=f'{name} model alone, images/s by batch size', **{f'bs{k}': v for k,v in by_bs.items()})), flush=True)
        speed[name] = max(by_bs.values())
        acc[name] = evaluate(p, data, a.split)
    base = accuracy(acc['torch_fp32'])
    print(json.dumps(dict(step='best images/s of each (model alone)', **speed,
                          int8_over_onnx_fp32=round(speed['onnx_int8']/speed['onnx_fp32'], 3),
                          **({'bf16_over_torch_fp32': round(speed['torch_bf16']/speed['torch_fp32'], 3)} if 'torch_bf16' in speed else {}))), flush=True)
    print(json.dumps(dict(step=f'accuracy on {a.split} (as trained, TTA {torch_p.tta})',
                          **{k: round(accuracy(v), 4) for k,v in acc.items()},
                          **{f'{k}_drop_points': round(100*(base - accuracy(v)), 2) for k,v in acc.items() if k != 'torch_fp32'})), flush=True)

    # 3. a catalogue end to end: decoding overlapped with the model, written to CSV, against its parts
    with tempfile.TemporaryDirectory() as d:
        res = predict_catalogue(torch_p, sample, Path(d)/'p.csv', bs=32, progress=False)
    tta_factor = 2 if torch_p.tta else 1
    model_ips = rows['nhwc_bs32']/tta_factor
    print(json.dumps(dict(step='catalogue end to end (predict_catalogue, torch float32, batches of 32, as trained)', images=res['images'],
                          images_per_s=res['images_per_s'], model_alone_images_per_s=round(model_ips, 1),
                          decode_then_model_images_per_s=round(1/(1/decode_ips + 1/model_ips), 1),
                          end_to_end_over_model_alone=round(res['images_per_s']/model_ips, 3),
                          end_to_end_over_decode_then_model=round(res['images_per_s']/(1/(1/decode_ips + 1/model_ips)), 3))), flush=True)
