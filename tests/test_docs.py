"The documentation site: nbdev's docs preprocessing of every notebook, offline (Quarto renders it in .github/workflows/docs.yaml)."
import json, shutil, sys
from conftest import ROOT
sys.path.insert(0, str(ROOT/'.ci'))
import docs

def test_docs_check_passes():
    assert docs.check() == []      # in this process: `python .ci/docs.py check` prints these problems and exits 1 on any

def test_sidebar_lists_every_notebook():
    listed = docs.sidebar_notebooks((ROOT/'nbs'/'sidebar.yml').read_text())
    assert sorted(listed) == sorted(p.name for p in docs.notebooks()), listed
    assert listed[0] == 'index.ipynb' and len(set(listed)) == len(listed)

def _cell(src): return {'cell_type': 'code', 'execution_count': None, 'id': 'badcell1', 'metadata': {}, 'outputs': [], 'source': src}

def _copy(tmp_path, names):
    "A folder with the site's files and some of the notebooks"
    nbs = tmp_path/'nbs'; nbs.mkdir()
    for f in docs.SITE_FILES + names: shutil.copy(ROOT/'nbs'/f, nbs/f)
    return nbs

def _edit(path, f):
    nb = json.loads(path.read_text()); f(nb['cells']); path.write_text(json.dumps(nb))

def test_docs_check_reports_a_cell_nbdev_cannot_evaluate_an_unlisted_notebook_and_a_broken_link(tmp_path):
    nbs = _copy(tmp_path, ['index.ipynb', '01_data.ipynb'])
    # a test cell that imports, so nbdev evaluates it for the docs, and uses a name from a cell it does not evaluate
    _edit(nbs/'01_data.ipynb', lambda cs: cs.append(_cell("from fastcore.test import test_eq\ntest_eq(name_from_an_unevaluated_cell, 1)")))
    shutil.copy(ROOT/'nbs'/'22_tutorial_own_photos.ipynb', nbs/'23_new_tutorial.ipynb')
    _edit(nbs/'index.ipynb', lambda cs: cs.append({'cell_type': 'markdown', 'id': 'badlink1', 'metadata': {}, 'source': 'See [this](24_gone.ipynb#top).'}))
    text = '\n'.join(docs.check(nbs))
    assert "nbdev docs processing failed" in text and "name 'name_from_an_unevaluated_cell' is not defined" in text, text
    assert "sidebar.yml leaves out ['23_new_tutorial.ipynb']" in text, text
    assert "index.ipynb: the link 24_gone.ipynb leads nowhere" in text, text

def test_docs_check_reports_an_exported_name_without_documentation_and_a_mixed_import_cell(tmp_path):
    nbs = _copy(tmp_path, ['index.ipynb', '00_datasets.ipynb'])
    def hide(cs):   # bbox_crop's cell no longer exported: no show_doc section for a name in the module's __all__
        c = next(c for c in cs if ''.join(c['source']).startswith('#| export\ndef bbox_crop'))
        c['source'] = ''.join(c['source']).replace('#| export\n', '#| exporti\n')
    _edit(nbs/'00_datasets.ipynb', hide)
    # and a cell that runs fine but mixes an import with code: nbdev warns, and the check reports it
    _edit(nbs/'00_datasets.ipynb', lambda cs: cs.append(_cell("from fastcore.test import test_eq\ntest_eq(1 + 1, 2)")))
    problems = docs.check(nbs)
    assert "00_datasets.ipynb: no show_doc section for ['bbox_crop']" in problems, problems
    assert any("mixes imports with other code" in p and "from fastcore.test import test_eq" in p for p in problems), problems
    assert not any('processing failed' in p for p in problems), problems

# --- the tutorials are committed executed (python .ci/execute_tutorials.py): a reader on GitHub sees their outputs ---
import ast, base64, pytest
TUTORIALS = ['20_tutorial_categories.ipynb', '21_tutorial_attributes.ipynb', '22_tutorial_own_photos.ipynb']
SHOWS = ('show_batch(', 'show_results(', 'plot_', 'lr_find(', 'plt.subplots(', '.plot.')

def _meant_to_show(src:str) -> bool:
    "A cell that draws, or whose last statement shows a value: a name, an attribute, a table (`.head()`, `.report()`, …)"
    if any(s in src for s in SHOWS): return True
    try: body = ast.parse(src).body
    except SyntaxError: return False
    if not body or not isinstance(body[-1], ast.Expr) or src.rstrip().endswith(';'): return False
    v = body[-1].value
    return not isinstance(v, ast.Call) or getattr(v.func, 'attr', None) in ('head', 'predict', 'summary', 'report', 'most_confused', 'sort_values')

@pytest.mark.parametrize('name', TUTORIALS)
def test_tutorials_are_stored_with_their_outputs(name):
    cells = [c for c in json.loads((ROOT/'nbs'/name).read_text())['cells'] if c['cell_type'] == 'code']
    for c in cells:
        src = ''.join(c['source'])
        flags = {l.replace(' ', '') for l in src.splitlines() if l.startswith('#|')}
        if flags & {'#|slow', '#|hide'} or not _meant_to_show(src): continue
        assert c['outputs'], f"{name}: this cell shows something but has no stored output: run python .ci/execute_tutorials.py\n{src}"
        if any(s in src for s in SHOWS[:2] + ('plot_',)):
            assert any({'image/png', 'image/jpeg'} & set(o.get('data', {})) for o in c['outputs']), f"{name}: no stored picture for\n{src}"
    images = [base64.b64decode(v) for c in cells for o in c['outputs'] for k,v in o.get('data', {}).items() if k.startswith('image/')]
    draws = [c for c in cells if '#| slow' not in ''.join(c['source']) and any(s in ''.join(c['source']) for s in SHOWS)]
    assert images or not draws, name
    assert not images or max(map(len, images)) < 120_000 and sum(map(len, images)) < 400_000, (name, sorted(map(len, images))[-3:])
