import os, pytest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def pytest_addoption(parser):
    parser.addoption('--slow', action='store_true', help='also run cells and tests flagged slow (real-data training)')

@pytest.fixture(autouse=True, scope='session')
def _isolated_cache(tmp_path_factory):
    "Keep the embedded sample's cache inside the test run, not in the user's home"
    os.environ.setdefault('FASHION_FASTAI_HOME', str(tmp_path_factory.mktemp('home')))

def shared(sub):
    "A folder of the real data, or skip the test with the reason"
    from fashion_fastai.datasets import shared_data
    p = shared_data(sub)
    if p is None: pytest.skip(f'real data {sub!r} not found (set FASHION_FASTAI_DATA or put it at ../shared/data)')
    return p
