import os, shutil, subprocess, sys, pytest
from pathlib import Path
from filelock import FileLock

if os.environ.get('PYTEST_XDIST_WORKER'):
    # The CPU cores shared out between the xdist workers (and the commands they start): two workers each running
    # two-thread BLAS on two cores spend their time waiting for each other.
    _n = max(1, (os.cpu_count() or 1) // int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1')))
    os.environ.setdefault('OMP_NUM_THREADS', str(_n))
    import torch
    torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))

# The embedded sample's cache inside the test run, not in the user's home, and set before CPU_ONLY copies the environment,
# so that the commands the tests start share it too (a session fixture would set it after the copy)
if 'FASHION_FASTAI_HOME' not in os.environ:
    import atexit, tempfile
    os.environ['FASHION_FASTAI_HOME'] = tempfile.mkdtemp(prefix='fashion-fastai-home-')
    atexit.register(shutil.rmtree, os.environ['FASHION_FASTAI_HOME'], True)

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent/'fashion-fastai'   # the installed console script
# On the CPU even where there is a GPU: the tests compare numbers across commands, and GPUs round differently (TF32)
CPU_ONLY = {**os.environ, 'CUDA_VISIBLE_DEVICES': ''}

def cli(*args, timeout=600):
    "Run the installed `fashion-fastai` command as a user does, on the CPU"
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=CPU_ONLY)

def cli_in(*args):
    """`fashion-fastai ARGS` run in this process (`cli.main`, what the console script calls), as a CompletedProcess: for checks
    that need no fresh process — an error message, a `--dry-run`, a sample — without paying Python, torch and fastai's start-up"""
    import contextlib, io, warnings
    from fashion_fastai.cli import main
    out, err = io.StringIO(), io.StringIO()
    def show(message, category, filename, lineno, file=None, line=None):
        err.write(warnings.formatwarning(message, category, filename, lineno, line))
    # warnings as a fresh process shows them, on its stderr (pytest records them instead, and would hide them from the test)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.resetwarnings(); warnings.simplefilter('default'); warnings.showwarning = show
        for c in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning): warnings.simplefilter('ignore', c)   # Python's defaults
        try: rc = main([str(a) for a in args])
        except SystemExit as e: rc = e.code if isinstance(e.code, int) else int(e.code is not None)   # argparse: --help, usage errors
    return subprocess.CompletedProcess(['fashion-fastai', *map(str, args)], rc, out.getvalue(), err.getvalue())

def pytest_addoption(parser):
    parser.addoption('--slow', action='store_true', help='also run cells and tests flagged slow (real-data training)')

# The longest tests (notebooks that train), longest first. Two xdist workers finish together only if the last tests
# they run are short ones (`--dist worksteal` moves queued tests, not a running one): started last, the 80-second
# README notebook kept one worker busy for a minute after the other had run out of work. A scheduling hint only.
LONGEST = ('21_tutorial_attributes', 'index', '03b_learner', '05_inference', '20_tutorial_categories', '03d_progressive',
           '06_interpret', '03a_callbacks', '05c_quantize')

def _longest_first(item):
    m = item.name.removeprefix('test_notebook[').removesuffix('.ipynb]')
    return LONGEST.index(m) if item.name.startswith('test_notebook[') and m in LONGEST else len(LONGEST)

def pytest_collection_modifyitems(config, items):
    "The longest tests first; tests marked `slow` (real-data training, the README's quick start) run with --slow (`.ci/run` runs them after the rest)"
    items.sort(key=_longest_first)          # stable: the others keep their order
    if config.getoption('--slow'): return
    skip = pytest.mark.skip(reason='slow: run with --slow (.ci/run does)')
    for item in items:
        if 'slow' in item.keywords: item.add_marker(skip)

def shared(sub):
    "A folder of the real data, or skip the test with the reason"
    from fashion_fastai.datasets import shared_data
    p = shared_data(sub)
    if p is None: pytest.skip(f'real data {sub!r} not found (set FASHION_FASTAI_DATA or put it at ../shared/data)')
    return p

@pytest.fixture(scope='session')
def once(tmp_path_factory, worker_id):
    """`once(name, make)`: the folder `make(folder)` filled, made by one xdist worker for all of them (the others wait
    and reuse it). For expensive setup such as training a model, which a session fixture would repeat on every worker."""
    root = tmp_path_factory.getbasetemp() if worker_id == 'master' else tmp_path_factory.getbasetemp().parent
    def _once(name, make):
        d = root/name
        with FileLock(str(d) + '.lock'):
            if not (d/'.done').exists():
                shutil.rmtree(d, ignore_errors=True); d.mkdir(parents=True)
                make(d)
                (d/'.done').touch()
        return d
    return _once
