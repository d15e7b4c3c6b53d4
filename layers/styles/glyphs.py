"""Label glyphs for MapLibre: signed-distance-field PBF blocks made from a Debian font at setup.

MapLibre reads glyphs as 256-character blocks (``0-255.pbf`` …) of 24 px SDF bitmaps with
a 3 px buffer (the ``glyphs.proto`` format). Vietnamese needs Basic Latin, Latin-1, Latin
Extended-A/B, the combining marks and Latin Extended Additional (ạ ả ấ … ỹ, U+1E00–1EFF):
those blocks only are generated, from Noto Sans (``fonts-noto-core``), with FreeType
rendering and a Euclidean distance transform — no glyph server, no internet.
"""

from __future__ import annotations

from pathlib import Path

#: Where the generated blocks live (git-ignored; made by ``python -m bando.layers.styles.glyphs``).
FONTS_DIR = Path(__file__).with_name("fonts")
#: The blocks Vietnamese text needs.
BLOCKS = (0, 256, 512, 768, 7680)
