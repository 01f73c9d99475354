"""Print the README's quick-start command: the first ```sh block under `## Quick start`, its line continuations joined.

`.ci/run` runs what this prints in a bare install (`pip install -e .`, no extras), so the README and what CI proves
cannot drift apart."""
import re, sys
from pathlib import Path

def quickstart(readme:str) -> str:
    "The command of the first sh block in the Quick start section of `readme`"
    sec = readme.split('\n## Quick start', 1)
    if len(sec) < 2: sys.exit("README.md has no '## Quick start' section")
    m = re.search(r'```sh\n(.*?)```', sec[1].split('\n## ', 1)[0], re.S)
    if not m: sys.exit("README.md's Quick start has no ```sh block")
    return m.group(1).replace('\\\n', ' ').strip()

if __name__ == '__main__': print(quickstart((Path(__file__).resolve().parents[1]/'README.md').read_text()))
