"""What JPEG draft decoding buys: one image's decode + bbox crop + presize, in full and with `draft_for`, in one run.

For each presize, reads the same photos (one thread, files in the OS cache) the way training's `LoadImage` and the
export's `Preprocess` do — `open_image`, then the presize `Resize` — with and without draft decoding, and prints
images/s, the ratio, how many photos were decoded reduced, and how far the presized pixels move (mean absolute
difference, 0–255). With --model, also evaluates that export folder at --test-size on its dataset's validation split
both ways (the config's `input.draft` switched in a copy): the metrics each way.

  python benchmarks/draft_decode.py --data ../shared/data/clothing-types --presize 160 200 280 [--n 300]
  python benchmarks/draft_decode.py --data ../shared/data/clothing-types --model types --test-size 128
"""
import argparse, json, platform, shutil, tempfile, time
from pathlib import Path
import numpy as np

def decode_rates(df, presize:int, n:int, crop_bbox:bool, repeat:int=5) -> dict:
    from fashion_fastai.data import LoadImage
    from fashion_fastai.inference import presize as resize
    rows = [df.iloc[k] for k in range(min(n, len(df)))]
    def run(draft):
        load = LoadImage(crop_bbox, 0.1, presize if draft else None)
        return [np.asarray(resize(load(r), [presize, presize])) for r in rows]
    times = {False: (float('inf'), None), True: (float('inf'), None)}
    for _ in range(repeat):                      # alternated, best of `repeat`: both ways see the same machine
        for draft in (False, True):
            t = time.perf_counter(); out = run(draft); dt = time.perf_counter() - t
            if dt < times[draft][0]: times[draft] = (dt, out)
    full,red = times[False][1],times[True][1]
    engaged = sum(LoadImage(crop_bbox, 0.1, presize)(r).size != LoadImage(crop_bbox, 0.1)(r).size for r in rows)
    diff = float(np.mean([np.abs(a.astype(float) - b).mean() for a,b in zip(full, red)]))
    return dict(presize=presize, n=len(rows), full_per_s=round(len(rows)/times[False][0], 1), draft_per_s=round(len(rows)/times[True][0], 1),
                ratio=round(times[False][0]/times[True][0], 2), engaged=engaged, mean_abs_diff=round(diff, 2))

def accuracy_both_ways(model, test_size:int, data=None) -> dict:
    from fashion_fastai.evaluation import evaluate, dataset_split
    from fashion_fastai.inference import Predictor
    with tempfile.TemporaryDirectory() as d:
        res = {}
        for draft in (False, True):
            m = Path(d)/f'draft-{draft}'
            shutil.copytree(model, m, ignore=shutil.ignore_patterns('models', 'interpretation', '*.onnx*'))
            cfg = json.loads((m/'config.json').read_text()); cfg['input']['draft'] = draft
            (m/'config.json').write_text(json.dumps(cfg))
            p = Predictor(m, device='cpu', size=test_size)
            res[draft] = evaluate(p, data, 'val')
        pick = lambda r: {k: round(v, 4) for k,v in r.items() if isinstance(v, float)}
        return dict(test_size=test_size, n=res[True]['n'], full=pick(res[False]), draft=pick(res[True]))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', required=True)
    ap.add_argument('--presize', type=int, nargs='*', default=[160, 200, 280])
    ap.add_argument('--n', type=int, default=300)
    ap.add_argument('--crop-bbox', action='store_true')
    ap.add_argument('--model'); ap.add_argument('--test-size', type=int)
    a = ap.parse_args()
    import torch; torch.set_num_threads(1)
    from fashion_fastai.datasets import read_dataset
    df = read_dataset(a.data)
    print(json.dumps(dict(machine=platform.processor() or platform.machine(), data=a.data)))
    for p in a.presize: print(json.dumps(decode_rates(df, p, a.n, a.crop_bbox)))
    if a.model: print(json.dumps(accuracy_both_ways(a.model, a.test_size, a.data)))
