"`python -m fashion_fastai …` runs the `fashion-fastai` command (as `accelerate launch -m fashion_fastai …` does)."
import sys
from fashion_fastai.cli import main

if __name__ == '__main__': sys.exit(main())
