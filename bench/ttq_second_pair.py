"""``bench --ttq`` on a second image pair: examples/coffee.png styled as examples/the_scream.jpg, 256 px.

For whichever tree is on PYTHONPATH (run it once with the old tree, once with the new, to compare two
versions of the presets): pastiche for 20 steps (only a bar; the figures compared are our whole job's
time and final objective), then the preview and standard presets.

    PYTHONPATH=TREE python bench/ttq_second_pair.py OUT.json
"""
import os
import sys

import numpy as np
from PIL import Image

import daemon.bench as bench
from daemon.cli import main

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def images(size):
    content = Image.open(os.path.join(EXAMPLES, "coffee.png")).convert("RGB")
    style = Image.open(os.path.join(EXAMPLES, "the_scream.jpg")).convert("RGB")
    w, h = content.size
    k = size / max(w, h)
    content = content.resize((round(w * k), round(h * k)), Image.LANCZOS)
    return np.asarray(content).copy(), np.asarray(style).copy()


if __name__ == "__main__":
    bench._images = images
    sys.exit(main(["bench", "--ttq", "--sizes", "256", "--pastiche-steps", "20", "--presets", "preview,standard",
                   "--json", sys.argv[1]]))
