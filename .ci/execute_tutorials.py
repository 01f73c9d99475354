"""Execute the tutorials on the embedded sample and store their outputs, so that a reader on GitHub (or the docs site)
sees the batches, curves, confusion matrices and tables.

`python .ci/execute_tutorials.py [NOTEBOOK…]` (default: the three tutorials) runs every cell but those flagged
`#| slow` (real data, which a reader's machine may not have: they keep no output), with figures as small PNGs (photo grids as JPEG), then
`nbdev-clean`s the notebook. Commit the result; `tests/test_docs.py` checks that each cell meant to show something has
a stored output and that the stored images stay small."""
import os, sys, time
from pathlib import Path

root = Path(__file__).resolve().parents[1]
TUTORIALS = ['20_tutorial_categories.ipynb', '21_tutorial_attributes.ipynb', '22_tutorial_own_photos.ipynb']
SETUP = "import matplotlib; matplotlib.rcParams.update({'figure.dpi': 56, 'savefig.dpi': 56})"   # small stored figures

def is_slow(cell) -> bool: return cell.cell_type == 'code' and any(l.strip().replace(' ', '') == '#|slow' for l in cell.source.splitlines())

def shrink(nb, limit:int=30_000):
    "Photo grids store as JPEG (quality 75), a fraction of their PNG size; plots stay PNG"
    import base64, io
    from PIL import Image
    for c in nb.cells:
        for o in c.get('outputs', []):
            d = o.get('data', {})
            if 'image/png' not in d or len(d['image/png']) < limit: continue
            buf = io.BytesIO()
            Image.open(io.BytesIO(base64.b64decode(d['image/png']))).convert('RGB').save(buf, 'JPEG', quality=75, optimize=True)
            if buf.tell() < len(d['image/png'])*3//4: d['image/jpeg'] = base64.b64encode(buf.getvalue()).decode(); del d['image/png']

def clean_streams(nb):
    "Progress bars drawn for a terminal (carriage returns, block characters) leave only their last state; empty streams go"
    for c in nb.cells:
        outs = []
        for o in c.get('outputs', []):
            if o.get('output_type') == 'stream':
                text = ''.join(o['text']) if isinstance(o['text'], list) else o['text']
                states = [[x for x in l.split('\r') if x.strip()] for l in text.split('\n')]    # what each line was redrawn as
                lines = [s[-1] for s in states if s and '█' not in s[-1] and '|----' not in s[-1]]
                if not lines: continue
                o['text'] = '\n'.join(lines) + '\n'
            outs.append(o)
        if c.cell_type == 'code': c.outputs = outs

def execute(path:Path):
    from fastcore.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    from nbdev.clean import nbdev_clean
    nb = read_nb(path)
    for c in nb.cells:
        if c.cell_type == 'code': c.outputs,c.execution_count = [],None
    cwd = os.getcwd(); os.chdir(path.parent)       # as a reader runs it: from nbs/ (its runs/ folder is not committed)
    try:
        sh = CaptureShell(mpl_format='png')
        sh.run(SETUP)
        sh.run_all(nb, exc_stop=True, preproc=is_slow)
    finally: os.chdir(cwd)
    shrink(nb); clean_streams(nb)
    write_nb(nb, path)
    nbdev_clean(fname=str(path))

if __name__ == '__main__':
    os.environ.setdefault('FASHION_FASTAI_HOME', str(Path.home()/'.cache'/'fashion-fastai'))
    for name in sys.argv[1:] or TUTORIALS:
        t = time.time()
        p = Path(name) if Path(name).exists() else root/'nbs'/name
        execute(p)
        print(f'{p.name}: executed in {time.time() - t:.0f} s, {p.stat().st_size/1024:.0f} KiB')
