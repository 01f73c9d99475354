"""Where should batch augmentation run? Times fastai's presized pipeline on the same data, CPU vs CUDA, in one run.

Builds DataLoaders over a dataset (default: the embedded synthetic sample; --data for the real FashionDataset) and
reports, for each device present:
  - aug: images/s of the batch transforms alone (aug_transforms + Normalize) on one fixed decoded batch;
  - epoch: images/s of one full pass over the training DataLoader (decode + presize on CPU workers, batch
    transforms on the device);
and the CUDA/CPU ratios. Usage: python benchmarks/batch_transforms.py [--data DIR] [--size 224] [--bs 64]
"""
import argparse, json, os, time, torch
from fashion_fastai.data import fashion_dls
from fashion_fastai.sample import sample_path

def timed(f, reps=1):
    if torch.cuda.is_available(): torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps): f()
    if torch.cuda.is_available(): torch.cuda.synchronize()
    return (time.perf_counter() - t)/reps

def bench(data, device, size, bs, workers, reps):
    dls = fashion_dls(data, bs=bs, size=size, device=device, num_workers=workers, holdout=None)
    dl = dls.train
    b = dl.do_batch([dl.do_item(i) for i in range(bs)])     # decoded, presized, collated: before after_batch
    b = tuple(t.to(device) for t in b)
    dl.after_batch(b)                                        # warm up
    aug = bs/timed(lambda: dl.after_batch(b), reps)
    n = 0
    def epoch():
        nonlocal n
        for xb,*_ in dl: n += len(xb)
    t = timed(epoch)
    return dict(device=device, aug_img_s=round(aug, 1), epoch_img_s=round(n/t, 1), n=n, device_of_batch=str(dl.one_batch()[0].device))

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--data'); p.add_argument('--size', type=int, default=224); p.add_argument('--bs', type=int, default=64)
    p.add_argument('--workers', type=int, default=min(8, os.cpu_count())); p.add_argument('--reps', type=int, default=10)
    a = p.parse_args()
    data = a.data or sample_path('attributes')
    res = [bench(data, 'cpu', a.size, a.bs, a.workers, a.reps)]
    if torch.cuda.is_available(): res.append(bench(data, 'cuda', a.size, a.bs, a.workers, a.reps))
    for r in res: print(json.dumps(r))
    if len(res) == 2:
        print(json.dumps(dict(gpu=torch.cuda.get_device_name(), cpus=os.cpu_count(), aug_cuda_over_cpu=round(res[1]['aug_img_s']/res[0]['aug_img_s'], 1),
                              epoch_cuda_over_cpu=round(res[1]['epoch_img_s']/res[0]['epoch_img_s'], 2))))
