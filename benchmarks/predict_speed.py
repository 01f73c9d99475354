"""Images per second of four ways to predict the same images, from one run, and the share of the CPU's FLOP ceiling.

1. `learn.predict(row)` image by image (fastai);
2. `learn.get_preds(dl=learn.dls.test_dl(rows))` batched (fastai);
3. the exported folder through `fashion_fastai.inference.Predictor` (plain PyTorch eager, batched, no fastai);
4. the same folder's `model.onnx` through ONNX Runtime (`Predictor(backend='onnx')`), batched.

Every path starts from image files and ends with probabilities, so decoding, resizing and normalising are included.
The PyTorch path uses channels-last weights (the `Predictor` default); the model alone is also timed without.
Paths 3 and 4 are also timed on the model alone (a preprocessed batch in, logits out), which is what the FLOP figures
use. The model is EfficientNet-Lite0 with the six attribute heads, pretrained offline (untrained heads do not change
the cost). Each path runs once to warm up, then is timed `--repeats` times; the best is kept.

The FLOP ceiling is stated two ways: measured, as the best fp32 GFLOP/s of a 2048×2048 `torch.mm` on all threads
(what the BLAS reaches on this machine), and nominal, as cores × clock × FLOPs per cycle per core from `--flops-per-cycle`
(32 for AVX2 with two 256-bit FMA units: 8 lanes × 2 for multiply-add × 2 units) and the clock `/proc/cpuinfo` gives.
The model's FLOPs per image are counted by `torch.utils.flop_counter.FlopCounterMode` (a multiply-add is 2 FLOPs).

Usage: python benchmarks/predict_speed.py [--data DIR] [--n 256] [--size 224] [--bs 32] [--repeats 3] [--device cpu]
"""
import argparse, json, os, re, tempfile, time
from pathlib import Path
import torch
from fashion_fastai.datasets import shared_data, read_dataset
from fashion_fastai.sample import sample_path
from fashion_fastai.data import fashion_dls
from fashion_fastai.learner import fashion_learner
from fashion_fastai.export import export_learner
from fashion_fastai.inference import Predictor, export_onnx

def best_of(f, repeats):
    f()                                            # warm-up
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return min(ts)

def matmul_gflops(n=2048, repeats=10):
    a,b = torch.randn(n, n),torch.randn(n, n)
    t = best_of(lambda: torch.mm(a, b), repeats)
    return 2*n**3 / t / 1e9

def clock_ghz():
    try: return max(float(m) for m in re.findall(r'cpu MHz\s*:\s*([\d.]+)', Path('/proc/cpuinfo').read_text())) / 1000
    except (OSError, ValueError): return None

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', help='attribute dataset (default: the real FashionDataset in ../shared/data, else the sample)')
    p.add_argument('--n', type=int, default=256, help='images to predict')
    p.add_argument('--size', type=int, default=224); p.add_argument('--bs', type=int, default=32)
    p.add_argument('--repeats', type=int, default=3); p.add_argument('--device', default='cpu')
    p.add_argument('--flops-per-cycle', type=float, default=32., help='fp32 FLOPs per cycle per core for the nominal ceiling')
    a = p.parse_args()
    data = Path(a.data) if a.data else (shared_data('fashion-attributes/FashionDataset') or sample_path('attributes'))
    df = read_dataset(data)
    df = df[df.split != 'test'].reset_index(drop=True)
    dls = fashion_dls(df, bs=a.bs, size=a.size, device=a.device, num_workers=0)
    learn = fashion_learner(dls)
    learn.model.eval()
    rows = df.iloc[:a.n]
    paths = rows.path.tolist()
    tmp = Path(tempfile.mkdtemp())
    out = export_learner(learn, tmp/'export')
    export_onnx(out)
    eager, ort = Predictor(out, device=a.device), Predictor(out, device=a.device, backend='onnx')
    nchw = Predictor(out, device=a.device, channels_last=False)
    info = dict(data=str(data), n=len(rows), size=a.size, bs=a.bs, device=a.device, torch_threads=torch.get_num_threads(), cpus=os.cpu_count())
    print(json.dumps(info), flush=True)

    def one_by_one():
        with learn.no_bar(), learn.no_logging():
            for _,r in rows.iterrows(): learn.predict(r)
    def get_preds():
        with learn.no_bar(), learn.no_logging():
            learn.get_preds(dl=learn.dls.test_dl(rows, bs=a.bs))
    # learn.predict is slow: time it on a quarter of the images (at least 16) and scale to images per second
    k = max(16, len(rows)//4)
    sub = rows.iloc[:k]
    def predict_sub():
        with learn.no_bar(), learn.no_logging():
            for _,r in sub.iterrows(): learn.predict(r)
    res = {}
    res['learn.predict (one by one)'] = k / best_of(predict_sub, a.repeats)
    res['learn.get_preds (batched)'] = len(rows) / best_of(get_preds, a.repeats)
    res['exported, PyTorch eager (batched)'] = len(rows) / best_of(lambda: eager.probs(paths, bs=a.bs), a.repeats)
    res['exported, ONNX Runtime (batched)'] = len(rows) / best_of(lambda: ort.probs(paths, bs=a.bs), a.repeats)
    x = eager.preprocess(paths[:a.bs])
    res['model only, PyTorch eager'] = a.bs / best_of(lambda: eager.logits(x), a.repeats*3)
    res['model only, PyTorch eager, NCHW (channels_last=False)'] = a.bs / best_of(lambda: nchw.logits(x), a.repeats*3)
    res['model only, ONNX Runtime'] = a.bs / best_of(lambda: ort.logits(x), a.repeats*3)
    res['preprocessing only'] = a.bs / best_of(lambda: eager.preprocess(paths[:a.bs]), a.repeats*3)
    base = res['learn.predict (one by one)']
    for name,v in res.items(): print(json.dumps(dict(path=name, images_per_s=round(v, 1), vs_learn_predict=round(v/base, 2))), flush=True)

    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc, torch.no_grad(): eager.model(x[:1].to(a.device))
    gflop = fc.get_total_flops() / 1e9
    if a.device == 'cpu':
        measured = matmul_gflops()
        ghz = clock_ghz()
        nominal = os.cpu_count() * ghz * a.flops_per_cycle if ghz else None
        fastest = max(res['model only, PyTorch eager'], res['model only, ONNX Runtime'])
        fastest_e2e = max(v for k,v in res.items() if k.startswith('exported'))
        print(json.dumps(dict(gflop_per_image=round(gflop, 3), matmul_gflops=round(measured, 1), clock_ghz=ghz, nominal_gflops=nominal and round(nominal, 1),
                              model_gflops=round(fastest*gflop, 1), model_share_of_matmul_peak=round(fastest*gflop/measured, 3),
                              model_share_of_nominal=nominal and round(fastest*gflop/nominal, 3),
                              end_to_end_share_of_matmul_peak=round(fastest_e2e*gflop/measured, 3))), flush=True)
    else: print(json.dumps(dict(gflop_per_image=round(gflop, 3))))

if __name__ == '__main__': main()
