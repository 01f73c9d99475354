"""The documentation site: an offline check of nbdev's docs preprocessing, and notebook execution for the site.

    python .ci/docs.py check                 # what `nbdev-docs` does before Quarto, on a copy of nbs/, then checks it
    python .ci/docs.py execute [--slow] [NB ...]   # run notebooks in place and keep their outputs (docs workflow)

`nbdev-docs` itself needs Quarto (the `docs` extra installs it from PyPI, which downloads it from GitHub);
`.github/workflows/docs.yml` runs `execute` and then `nbdev-docs`. `check` needs neither Quarto nor a network:
it runs nbdev's own processing of every notebook (directives, `show_doc`, the cells nbdev evaluates for the docs)
and fails when a notebook breaks it, when an exported name has no rendered documentation, when the sidebar
leaves a notebook out, or when a link between pages leads nowhere.
"""
import argparse, copy, importlib, inspect, json, os, re, shutil, sys, tempfile, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
SITE_FILES = ['_quarto.yml', 'nbdev.yml', 'sidebar.yml', 'styles.css']

def notebooks(nbs:Path=NBS): return sorted(p for p in Path(nbs).glob('*.ipynb') if not p.name.startswith(('_', '.')))

def sidebar_notebooks(text:str) -> list:
    "The notebook names listed in sidebar.yml"
    return [l.strip().lstrip('- ').strip() for l in text.splitlines() if l.strip().endswith('.ipynb')]

def _doc_names(proc_nb:Path) -> set:
    "Names with a rendered show_doc section in a processed notebook"
    names = set()
    for c in json.loads(proc_nb.read_text())['cells']:
        for o in c.get('outputs', []):
            md = ''.join(o.get('data', {}).get('text/markdown', []))
            names |= {l.lstrip('#').strip() for l in md.splitlines() if l.startswith(('### ', '#### '))}
    return names

def _module_of(nb:Path):
    for c in json.loads(nb.read_text())['cells']:
        for l in c['source']:
            if l.startswith('#| default_exp'): return 'fashion_fastai.' + l.split()[-1]

def _parsed_once(load):
    "`load` (nbdev's TOML reader) remembering each file: nbdev re-reads pyproject.toml for every cell it processes, ~850 times a check"
    parsed = {}
    def _load(p):
        k = Path(p).resolve()
        if k not in parsed: parsed[k] = load(p)
        return copy.deepcopy(parsed[k])
    return _load

def check(nbs:Path=NBS) -> list:
    "Run nbdev's docs preprocessing on a copy of the notebooks in `nbs`; return the problems found"
    from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar
    from nbdev.serve import proc_nbs
    import nbdev.config as nbdev_config
    problems = []
    nbs = Path(nbs)
    missing = [f for f in SITE_FILES if not (nbs/f).exists()]
    if missing: problems.append(f'nbs/ lacks {missing}: the site needs them')
    listed = sidebar_notebooks((nbs/'sidebar.yml').read_text()) if (nbs/'sidebar.yml').exists() else []
    names = [p.name for p in notebooks(nbs)]
    if set(names) - set(listed): problems.append(f'sidebar.yml leaves out {sorted(set(names) - set(listed))}')
    if set(listed) - set(names): problems.append(f'sidebar.yml lists missing notebooks {sorted(set(listed) - set(names))}')
    for nb in notebooks(nbs):
        for c in json.loads(nb.read_text())['cells']:
            if c['cell_type'] != 'markdown': continue
            for link in re.findall(r'\]\((?!https?:|#)([^)#\s]+)', ''.join(c['source'])):
                if not (nbs/link).exists(): problems.append(f'{nb.name}: the link {link} leads nowhere (links are relative to nbs/)')
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shutil.copy(ROOT/'pyproject.toml', tmp)
        (tmp/'nbs').mkdir()
        for p in nbs.iterdir():
            if p.is_file(): shutil.copy(p, tmp/'nbs')
        cwd = os.getcwd(); os.chdir(tmp)
        load_toml = nbdev_config._load_toml
        nbdev_config._load_toml = _parsed_once(load_toml)
        try:
            with warnings.catch_warnings(record=True) as ws:
                warnings.simplefilter('always')
                refresh_quarto_yml()
                nbdev_sidebar.__wrapped__()
                cache = proc_nbs(n_workers=0)
        except Exception as e: return problems + [f'nbdev docs processing failed: {e}']
        finally: os.chdir(cwd); nbdev_config._load_toml = load_toml
        for w in ws:   # nbdev's warning quotes the cell between '---' lines
            if 'Found cells containing imports' in str(w.message):
                cell = str(w.message).split('---')[1].strip().splitlines()[0]
                problems.append(f'a cell mixes imports with other code, so the docs build runs all of it: put its imports '
                                f'in a cell of their own (the cell starts {cell!r})')
        # _quarto.yml is written only when missing, and sidebar.yml is ours (custom_sidebar): nbdev.yml is regenerated
        if (nbs/'nbdev.yml').exists() and (tmp/'nbs'/'nbdev.yml').read_text() != (nbs/'nbdev.yml').read_text():
            problems.append('nbs/nbdev.yml is not what nbdev generates from pyproject.toml: commit the regenerated file')
        for nb in notebooks(nbs):
            out = cache/nb.name
            if not out.exists(): problems.append(f'{nb.name}: no processed page'); continue
            mod = _module_of(nb)
            if mod is None: continue
            m = importlib.import_module(mod)
            want = {n for n in m.__all__ if inspect.isfunction(getattr(m, n)) or inspect.isclass(getattr(m, n))}
            lost = want - _doc_names(out)
            if lost: problems.append(f'{nb.name}: no show_doc section for {sorted(lost)}')
    return problems

def execute(nbs:list, slow:bool=False):
    "Run notebooks in place, keeping outputs for the site (cells flagged notest, and slow unless `slow`, are skipped)"
    from nbdev.test import test_nb
    skip = ['notest'] + ([] if slow else ['slow'])
    for nb in nbs:
        ok,t = test_nb(nb, skip_flags=skip, basepath=ROOT, save=True, cell_timeout=None)
        print(f'{nb.name}: {"ok" if ok else "FAILED"} in {t:.0f} s', flush=True)
        if not ok: sys.exit(1)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('cmd', choices=['check', 'execute'])
    ap.add_argument('nbs', nargs='*', type=Path)
    ap.add_argument('--slow', action='store_true', help='also run the cells flagged slow (real data)')
    a = ap.parse_intermixed_args()
    if a.cmd == 'execute': execute(a.nbs or notebooks(), a.slow)
    else:
        problems = check()
        for p in problems: print(p)
        print('docs check:', 'OK' if not problems else f'{len(problems)} problem(s)')
        sys.exit(1 if problems else 0)
