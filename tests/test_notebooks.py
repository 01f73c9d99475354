"Every notebook in nbs/ executes without error through nbdev's own runner (cells flagged slow need --slow)."
import pytest
from conftest import ROOT

NBS = sorted((ROOT/'nbs').glob('*.ipynb'))

def test_found_notebooks(): assert len(NBS) >= 4, NBS

@pytest.mark.parametrize('nb', NBS, ids=[p.name for p in NBS])
def test_notebook(nb, request, monkeypatch):
    from nbdev.test import test_nb
    monkeypatch.chdir(nb.parent)
    skip = ['notest'] + ([] if request.config.getoption('--slow') else ['slow'])
    ok,_ = test_nb(nb, skip_flags=skip, basepath=ROOT, showerr=True)
    assert ok, f'{nb.name} failed (see the captured output above)'
