"""The built-in gallery: public-domain paintings that ship with the project, one click away.

Each painting is a file in ``shared/gallery/`` (long edge at most 1024 px) with its title, artist,
year and why it is in the public domain (``shared/gallery/LICENSES.md`` is the same table). A style
names one as ``gallery:NAME`` wherever a style file is taken (the command line's ``--style``);
``python -m daemon gallery`` lists them and the GIMP dialog shows them as its first choice.
``recommended`` holds settings measured to serve a painting clearly better than the defaults: by
``python -m daemon bench --gallery`` (BENCHMARKS.md, "The gallery's balance") the default balance keeps
0.7-1.5 times the gallery's median of each photo's structure with every painting, so none has one.

Standard library only: the plug-in imports this beside the protocol.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

FOLDER = Path(__file__).resolve().parent / "gallery"
PREFIX = "gallery:"


@dataclass(frozen=True)
class Painting:
    name: str                      # what ``gallery:NAME`` says
    file: str                      # in FOLDER
    title: str
    artist: str
    year: str
    licence: str                   # why it is in the public domain
    size: Tuple[int, int]          # width, height of the file
    recommended: Dict[str, object] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return FOLDER / self.file

    @property
    def caption(self) -> str:
        return "%s, %s (%s)" % (self.title, self.artist, self.year)


P = Painting
PAINTINGS = (
    P("starry-night", "van_gogh_starry_night.jpg", "The Starry Night", "Vincent van Gogh", "1889",
      "artist died 1890", (1024, 811)),
    P("starry-night-over-the-rhone", "van_gogh_starry_night_over_the_rhone.jpg", "Starry Night Over the Rhône",
      "Vincent van Gogh", "1888", "artist died 1890", (1024, 682)),
    P("wheat-field", "van_gogh_wheat_field_with_cypresses.jpg", "Wheat Field with Cypresses", "Vincent van Gogh",
      "1889", "artist died 1890", (944, 751)),
    P("the-scream", "munch_the_scream.jpg", "The Scream", "Edvard Munch", "1893",
      "artist died 1944; published 1893", (804, 1024)),
    P("great-wave", "hokusai_great_wave.jpg", "The Great Wave off Kanagawa", "Katsushika Hokusai", "c. 1831",
      "artist died 1849", (928, 514)),
    P("the-shipwreck", "turner_the_shipwreck.jpg", "The Shipwreck", "J. M. W. Turner", "1805",
      "artist died 1851", (960, 662)),
    P("wreck-of-a-transport-ship", "turner_shipwreck_of_the_minotaur.jpg", "The Wreck of a Transport Ship",
      "J. M. W. Turner", "c. 1810", "artist died 1851", (1000, 690)),
    P("woman-with-a-hat", "matisse_woman_with_a_hat.jpg", "Woman with a Hat", "Henri Matisse", "1905",
      "published 1905 (US); artist died 1954 (EU: 2025)", (591, 800)),
    P("udnie", "picabia_udnie.jpg", "Udnie", "Francis Picabia", "1913",
      "published 1913 (US); artist died 1953 (EU: 2024)", (512, 512)),
    P("contrast-of-forms", "leger_contrast_of_forms.jpg", "Contrast of Forms", "Fernand Léger", "1913",
      "published 1913 (US); artist died 1955 (EU: 2026)", (811, 1024)),
)
del P
BY_NAME = {p.name: p for p in PAINTINGS}


def find(name: str) -> Painting:
    """The painting ``name`` names (with or without ``gallery:``); KeyError with the names when none."""
    key = name[len(PREFIX):] if name.startswith(PREFIX) else name
    try:
        return BY_NAME[key.strip().lower()]
    except KeyError:
        raise KeyError("no painting %r in the gallery; it has: %s" % (key, ", ".join(BY_NAME))) from None


def of_path(path) -> Optional[Painting]:
    """The gallery painting a file is (by its place in FOLDER), or None for any other file."""
    try:
        p = Path(path).resolve()
    except (OSError, ValueError, TypeError):
        return None
    return next((q for q in PAINTINGS if q.path == p), None)


def is_gallery(name: str) -> bool:
    return isinstance(name, str) and name.startswith(PREFIX)
