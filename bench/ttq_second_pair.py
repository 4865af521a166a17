"""``bench --ttq`` on a second image pair: examples/coffee.png styled as examples/the_scream.jpg, 256 px.

For whichever tree is on PYTHONPATH (run it once with the old tree, once with the new, to compare two
versions of the presets): pastiche for 20 steps (only a bar; the figures compared are our whole job's
time and final objective), then the preview and standard presets.

    PYTHONPATH=TREE python bench/ttq_second_pair.py OUT.json

The tree needs a ``daemon.bench._images`` that takes the image names (from the commit that added this
script on); the "before" record (tree 1f5ef07) was taken with a first version of it that replaced
``_images`` outright with the same two images.
"""
import functools
import sys

import daemon.bench as bench
from daemon.cli import main

if __name__ == "__main__":
    bench._images = functools.partial(bench._images, content_name="coffee.png", style_name="the_scream.jpg")
    sys.exit(main(["bench", "--ttq", "--sizes", "256", "--pastiche-steps", "20", "--presets", "preview,standard",
                   "--json", sys.argv[1]]))
