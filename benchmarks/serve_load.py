"""Load on `fashion-fastai serve` over loopback: N concurrent clients, each with a keep-alive connection, send a bounded
number of real photos (raw body) to POST /predict (and POST /similar when --index is given); prints throughput,
p50/p90/p99 latency and the number of errors (anything but 200) per endpoint, as one JSON line each.

The server is started by this script as a user starts it, once per configuration in --configs (WORKERSxMAX_BATCH:
`1x1` is one process answering one request at a time, the service before micro-batching; `1x8` gathers up to 8
concurrent requests into one forward pass; `2x8` runs two processes of one thread each; a suffix `:onnx`, `:int8` or `:bf16` runs the model that way), and stopped after it. For
comparison it also prints what the same model does on the same photos without HTTP (`Predictor.probs`, one image per
call, then batches of 8 and 32), so each configuration's throughput shows as a ratio of the best of those, measured
in the same run. Run alone on an idle machine.

Usage: python benchmarks/serve_load.py --model DIR [--index DIR] [--images DIR] [--clients 8] [--requests 400] [--configs 1x1,1x8,2x8,1x8:onnx,2x8:int8]
"""
import argparse, json, socket, subprocess, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import numpy as np
import httpx
from fashion_fastai.datasets import image_files, shared_data
from fashion_fastai.sample import sample_path

def _port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def start(model, index=None, workers=1, max_batch=8, extra=(), timeout=300):
    port = _port()
    args = [str(Path(sys.executable).parent/'fashion-fastai'), 'serve', '--model', str(model), '--port', str(port), '--log-level', 'warning',
            '--workers', str(workers), '--max-batch', str(max_batch), *extra]
    if index: args += ['--index', str(index)]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url, t = f'http://127.0.0.1:{port}', time.time()
    while time.time() - t < timeout:
        if p.poll() is not None: raise SystemExit(f'serve exited: {p.stderr.read()[-2000:]}')
        try:
            if httpx.get(url + '/health', timeout=2).status_code == 200: return url, p
        except httpx.TransportError: time.sleep(0.3)
    p.kill(); raise SystemExit('serve did not start')

def load(url, path, bodies, clients, requests, **params):
    "Send `requests` requests from `clients` threads; latencies in ms and the non-200 count"
    lat, errors, nxt, lock = [], 0, iter(range(requests)), threading.Lock()
    def client(_):
        nonlocal errors
        with httpx.Client(timeout=120, headers={'content-type': 'application/octet-stream'}) as c:
            while True:
                with lock: i = next(nxt, None)
                if i is None: return
                t = time.perf_counter()
                try: ok = c.post(url + path, content=bodies[i % len(bodies)], params=params).status_code == 200
                except httpx.HTTPError: ok = False
                with lock:
                    lat.append((time.perf_counter() - t)*1e3)
                    errors += not ok
    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as ex: list(ex.map(client, range(clients)))
    wall = time.perf_counter() - t
    q = np.percentile(lat, [50, 90, 99])
    return dict(endpoint=path, clients=clients, requests=requests, errors=errors, wall_s=round(wall, 2),
                throughput_rps=round(requests/wall, 2), p50_ms=round(q[0], 1), p90_ms=round(q[1], 1), p99_ms=round(q[2], 1))

def direct(model, files, n):
    "The same model without HTTP: images/s one at a time and in batches of 8 and 32"
    from fashion_fastai.inference import Predictor
    p = Predictor(model)
    p.tta = bool(p.cfg.get('training', {}).get('tta', False))
    fs = [files[i % len(files)] for i in range(n)]
    p.probs(fs[:2])
    t = time.perf_counter()
    for f in fs: p.probs([f])
    one = n/(time.perf_counter() - t)
    t = time.perf_counter(); p.probs(fs, bs=8); b8 = n/(time.perf_counter() - t)
    t = time.perf_counter(); p.probs(fs, bs=32); b32 = n/(time.perf_counter() - t)
    return dict(direct_images_per_s_one_at_a_time=round(one, 2), direct_images_per_s_batch_8=round(b8, 2), direct_images_per_s_batch_32=round(b32, 2))

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True); ap.add_argument('--index'); ap.add_argument('--images')
    ap.add_argument('--clients', type=int, default=8); ap.add_argument('--requests', type=int, default=400)
    ap.add_argument('--configs', default='1x1,1x8,2x8', help='WORKERSxMAX_BATCH, comma-separated')
    a = ap.parse_args()
    src = Path(a.images) if a.images else (shared_data('clothing-types/validation') or sample_path('categories'))
    files = image_files(src)[:200]
    bodies = [f.read_bytes() for f in files]
    print(json.dumps(dict(images=str(src), n_images=len(files), mean_kb=round(np.mean([len(b) for b in bodies])/1024, 1))), flush=True)
    results = []
    for c in a.configs.split(','):
        c, _, flag = c.partition(':')                 # 1x8:onnx, 1x8:int8 (--onnx --int8), 1x8:bf16
        workers, max_batch = map(int, c.split('x'))
        extra = {'': [], 'onnx': ['--onnx'], 'int8': ['--onnx', '--int8'], 'bf16': ['--bf16']}[flag]
        url, proc = start(a.model, a.index, workers, max_batch, extra)
        try:
            load(url, '/predict', bodies, a.clients, min(16, a.requests))          # warm-up, not reported
            res = dict(workers=workers, max_batch=max_batch, backend=flag or 'torch', **load(url, '/predict', bodies, a.clients, a.requests))
            h = httpx.get(url + '/health').json().get('batching', {}).get('predict')
            if h and workers == 1: res['mean_batch'] = round(h['images']/max(1, h['batches']), 2)
            print(json.dumps(res), flush=True); results.append(res)
            if a.index:
                print(json.dumps(dict(workers=workers, max_batch=max_batch, **load(url, '/similar', bodies, a.clients, a.requests, k=5))), flush=True)
        finally:
            proc.terminate(); proc.wait(30)
    d = direct(a.model, files, min(a.requests, 200))
    best = max(d.values())
    print(json.dumps(d | {f'service_{r["workers"]}x{r["max_batch"]}_{r["backend"]}_over_best_direct': round(r['throughput_rps']/best, 3) for r in results}))
