"""Render README.md from nbs/index.ipynb (markdown cells as they are, each run of code cells as one python block).

nbdev-readme does this through Quarto, which cannot be installed offline (PyPI's quarto-cli downloads Quarto while
it builds); this renders the same notebook without it, links to other notebooks made relative to the project root.
`python .ci/readme.py` writes README.md; CI checks no diff."""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]
nb = json.loads((root/'nbs'/'index.ipynb').read_text())
out, prev = [], None
for c in nb['cells']:
    src = ''.join(c['source']).strip()
    if src.startswith('#|'): continue
    if c['cell_type'] == 'code' and prev == 'code': out[-1] = out[-1][:-len('\n```')] + f'\n{src}\n```'   # one block per run of code cells
    else: out.append(src if c['cell_type'] == 'markdown' else f'```python\n{src}\n```')
    prev = c['cell_type']
# links to other notebooks and to images are relative to nbs/ (as the docs site needs them); from the README they are under nbs/
out = [re.sub(r'\]\((?!https?:|#)([^)\s]+\.ipynb|images/[^)\s]+)', r'](nbs/\1', o) for o in out]   # notebooks and nbs/images
text = '<!-- Generated from nbs/index.ipynb by .ci/readme.py: edit the notebook, not this file. -->\n\n' + '\n\n'.join(out) + '\n'
(root/'README.md').write_text(text)
