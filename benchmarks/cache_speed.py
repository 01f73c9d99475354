"""Training throughput with the real DataLoader, images loaded from disk every epoch against decoded once and cached
(`fashion_dls(cache=True)`, `train --cache`), per training size and number of DataLoader workers.

The `cpu` recipe's model and step (EfficientNet-Lite0, channels-last, the early half of the body fixed, every other
layer trainable, batch 32, fastai's `fit` with its callbacks) on real photos (`--data`; the attribute photos by default; bounding-box crop, presize
1.25 × size, the batch augmentation): images per second over `--batches` training batches after 3 warm-up batches.
Each configuration runs in its own process (so the DataLoader workers of one do not linger into the next); ratios
are printed from figures measured in the same run. The cache's fill time (every image once, two threads) is printed
apart: a run pays it once, at the start. Run alone on an idle machine.

Usage: python benchmarks/cache_speed.py [--data DIR] [--sizes 160 224] [--workers 0 2] [--batches 40]
"""
import argparse, json, subprocess, sys, time, warnings
from pathlib import Path

def one(data:str, size:int, workers:int, cache:bool, batches:int) -> dict:
    "Training images/s of one configuration, in this process"
    warnings.filterwarnings('ignore')
    from fastai.callback.core import Callback, CancelFitException
    from fashion_fastai.data import fashion_dls
    from fashion_fastai.learner import fashion_learner
    t = time.time()
    dls = fashion_dls(data, bs=32, valid_pct=0.2, seed=1, size=size, crop_bbox=True, num_workers=workers, check_images=False, cache=cache)
    build = time.time() - t
    learn = fashion_learner(dls, channels_last=True, fixed_groups=1)
    learn.unfreeze()
    learn.remove_cbs([c for c in learn.cbs if type(c).__name__ == 'ProgressCallback'])
    class Timer(Callback):
        def after_batch(self):
            if not self.training: return
            if self.iter == 2: self.t = time.time()
            if self.iter == batches + 2: self.dt = time.time() - self.t; raise CancelFitException
    tm = Timer()
    learn.fit(1, 1e-4, cbs=tm)
    return dict(size=size, workers=workers, cache=cache, img_s=round(batches*32/tm.dt, 1), dataloaders_s=round(build, 1))

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--data', help='the attribute dataset (default: ../shared/data/fashion-attributes/FashionDataset)')
    p.add_argument('--sizes', type=int, nargs='+', default=[160, 224])
    p.add_argument('--workers', type=int, nargs='+', default=[0, 2])
    p.add_argument('--batches', type=int, default=40)
    p.add_argument('--one', nargs=3, metavar=('SIZE', 'WORKERS', 'CACHE'), help=argparse.SUPPRESS)
    a = p.parse_args()
    from fashion_fastai.datasets import shared_data
    data = a.data or str(shared_data('fashion-attributes/FashionDataset'))
    if a.one:
        print(json.dumps(one(data, int(a.one[0]), int(a.one[1]), a.one[2] == '1', a.batches))); sys.exit(0)
    if not Path(data).exists(): sys.exit(f'{data}: no such dataset (give --data)')
    rows = {}
    for size in a.sizes:
        for w in a.workers:
            for cache in (False, True):
                r = subprocess.run([sys.executable, __file__, '--data', data, '--batches', str(a.batches), '--one', str(size), str(w), str(int(cache))],
                                   capture_output=True, text=True, check=True)
                rows[size, w, cache] = row = json.loads(r.stdout.strip().splitlines()[-1])
                print(json.dumps(row), flush=True)
    for size in a.sizes:
        best_plain = max(rows[size, w, False]['img_s'] for w in a.workers)
        best_cached = max(rows[size, w, True]['img_s'] for w in a.workers)
        print(json.dumps(dict(size=size, best_from_disk_img_s=best_plain, best_cached_img_s=best_cached,
                              cached_over_disk=round(best_cached/best_plain, 2))))
