"""JPEG decoding for batch prediction: nvJPEG on the GPU (`torchvision.io.decode_jpeg(device='cuda')`) against the CPU.

On the same files (read into memory first, so no row includes disk reads), one run prints images/s for:
- `open_image` (PIL: decode, EXIF orientation, RGB — what training, evaluation and `Predictor` use), one thread and
  a thread pool over every core;
- `torchvision.io.decode_jpeg` on the CPU, one thread;
- `decode_jpeg(device='cuda')` on batches (the bytes' copy to the GPU included);
- the model alone on the GPU (`tf_efficientnet_lite0`, fp32, NHWC, the given size and batch) — what decoding feeds;
- end to end, decode → resize to the input size → normalise → model: CPU decoding (the pool, PIL resize) against GPU
  decoding (`interpolate` with antialias on the GPU);
and the largest and mean pixel difference between nvJPEG's and PIL's decoding of the same file, since a model trained
on PIL's pixels is then fed nvJPEG's. Needs a CUDA GPU for the GPU rows (they are left out without one).

Usage: python benchmarks/gpu_decode.py FOLDER [--n 256] [--bs 64] [--size 224] [--threads N]
"""
import argparse, io, json, os, timeit
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import numpy as np, torch, torch.nn.functional as F
from PIL import Image
from torchvision.io import decode_jpeg, ImageReadMode
from fashion_fastai.datasets import open_image
from fashion_fastai.data import backbone_stats

def rate(fn, n:int, reps:int=3, sync=False) -> float:
    "Images/s of `fn()` processing `n` images: the best of `reps` timed calls after one warm-up (GPU work waited for)"
    def call():
        fn()
        if sync: torch.cuda.synchronize()
    call()
    return round(n/min(timeit.repeat(call, number=1, repeat=reps)), 1)

def pil_rgb(b:bytes) -> np.ndarray: return np.asarray(open_image(io.BytesIO(b)))

def pil_input(b:bytes, size:int) -> np.ndarray: return np.asarray(open_image(io.BytesIO(b)).resize((size, size), Image.BILINEAR))

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('folder'); p.add_argument('--n', type=int, default=256); p.add_argument('--bs', type=int, default=64)
    p.add_argument('--size', type=int, default=224); p.add_argument('--threads', type=int, default=os.cpu_count())
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else None, help="the batch-decoding device (default: cuda when there is one; 'cpu' runs the same rows on the CPU, to check the script)")
    a = p.parse_args()
    files = sorted(Path(a.folder).rglob('*.jpg'))[:a.n]
    blobs = [f.read_bytes() for f in files]
    sizes = [Image.open(io.BytesIO(b)).size for b in blobs]
    n, res = len(blobs), {}
    res['images'] = dict(n=n, median_size=[int(np.median([s[0] for s in sizes])), int(np.median([s[1] for s in sizes]))],
                         mean_kb=round(np.mean([len(b) for b in blobs])/1024, 1), cpu=os.cpu_count(), threads=a.threads,
                         torch=torch.__version__, gpu=torch.cuda.get_device_name() if torch.cuda.is_available() else None)
    torch.set_num_threads(1)
    res['pil_1_thread'] = rate(lambda: [pil_rgb(b) for b in blobs], n)
    pool = ThreadPoolExecutor(a.threads)
    res[f'pil_{a.threads}_threads'] = rate(lambda: list(pool.map(pil_rgb, blobs)), n)
    tensors = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs]
    res['torchvision_cpu_1_thread'] = rate(lambda: [decode_jpeg(t, mode=ImageReadMode.RGB) for t in tensors], n)
    dev = a.device
    if dev:
        sync = dev == 'cuda'
        batches = [tensors[i:i+a.bs] for i in range(0, n, a.bs)]
        res[f'decode_jpeg_{dev}_batch_{a.bs}'] = rate(lambda: [decode_jpeg(b, device=dev, mode=ImageReadMode.RGB) for b in batches], n, sync=sync)
        pairs = [(pil_rgb(blobs[i]), decode_jpeg(tensors[i], device=dev, mode=ImageReadMode.RGB).permute(1, 2, 0).cpu().numpy()) for i in range(min(n, 32))]
        diffs = [np.abs(p.astype(int) - q.astype(int)) for p,q in pairs if p.shape == q.shape]     # EXIF-rotated files differ in shape: left out
        res[f'decode_jpeg_{dev}_vs_pil_pixels'] = dict(compared=len(diffs), max_abs=int(max(d.max() for d in diffs)), mean_abs=round(float(np.mean([d.mean() for d in diffs])), 3))
        import timm
        model = timm.create_model('tf_efficientnet_lite0', pretrained=False, num_classes=26).to(dev).eval().to(memory_format=torch.channels_last)
        mean,std = (torch.tensor(v, device=dev).view(1, 3, 1, 1) for v in backbone_stats('tf_efficientnet_lite0'))
        x = torch.randn(a.bs, 3, a.size, a.size, device=dev).to(memory_format=torch.channels_last)
        with torch.inference_mode():
            res[f'model_alone_batch_{a.bs}'] = rate(lambda: [model(x) for _ in range(0, n, a.bs)], (n + a.bs - 1)//a.bs*a.bs, sync=sync)
            def cpu_path():
                for i in range(0, n, a.bs):
                    arr = np.stack(list(pool.map(lambda b: pil_input(b, a.size), blobs[i:i+a.bs])))
                    xb = torch.from_numpy(arr).to(dev, non_blocking=True).permute(0, 3, 1, 2).float().div_(255)
                    model(((xb - mean)/std).contiguous(memory_format=torch.channels_last))
            def gpu_path():
                for b in batches:
                    imgs = decode_jpeg(b, device=dev, mode=ImageReadMode.RGB)
                    xb = torch.stack([F.interpolate(im[None].float(), size=(a.size, a.size), mode='bilinear', antialias=True, align_corners=False)[0] for im in imgs]).div_(255)
                    model(((xb - mean)/std).contiguous(memory_format=torch.channels_last))
            res['end_to_end_pil_decode'] = rate(cpu_path, n, sync=sync)
            res[f'end_to_end_decode_jpeg_{dev}'] = rate(gpu_path, n, sync=sync)
        d = res[f'decode_jpeg_{dev}_batch_{a.bs}']
        res['ratios'] = dict(decode_over_pil_pool=round(d/res[f'pil_{a.threads}_threads'], 2), decode_over_pil_1_thread=round(d/res['pil_1_thread'], 2),
                             end_to_end_over_pil_decode=round(res[f'end_to_end_decode_jpeg_{dev}']/res['end_to_end_pil_decode'], 2))
    print(json.dumps(res))
