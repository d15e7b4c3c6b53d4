"""Every adaptation of pygeoapi in one package, written for pygeoapi 0.24 (pinned <0.25).

bando plugs into pygeoapi where pygeoapi means it to — providers and processes loaded by
dotted path from the configuration, the ``pygeoapi.api.*`` request handlers — and
adapts, here and nowhere else, each upstream behaviour it cannot accept. Each has a test
in ``tests/api_config/test_pygeoapi_seam.py`` (17–19: ``test_standard_clients.py``) that fails
without the adaptation, so an upgrade is this package and those test files.

1. ``starlette_app`` builds one global API from the environment at import time, in
   debug mode → :mod:`.routing`: bando's own route table calls the handlers of *this*
   API object, so two views share a process, never in debug.
2. ``crs.get_crs`` and ``crs.transform_bbox`` rebuild pyproj objects on every request
   (20–45 ms) and let PROJ choose the VN-2000 transformation (0.8 m off in the south)
   → :mod:`.crs`: cached, pinned to EPSG:6960, bbox edges densified.
3. Error descriptions echo a refused value whole → :func:`.handlers.short_error`.
4. Malformed JSON bodies (bad UTF-8, ``null``, deep nesting) answer 500
   → :func:`.handlers.body_problem` answers 400 first.
5. An invalid coverage ``bbox`` answers 500 → :func:`.handlers.valid_bbox`: 400.
6. Records items as CSV answer 500 → :func:`.handlers.records_not_as_csv`: 400.
7. A ``subscriber`` answers 500: any value but an object in the handler, an object in the
   ``Dummy`` job manager (no ``processor``) → :func:`.handlers.no_subscriber`: 400
   (bando's processes are synchronous and offer no callbacks).
8. Every exception in a synchronous process becomes a failed job (400), a database
   outage too → :func:`.handlers.unavailable_is_503`: 503 with ``Retry-After``.
9. Conformance classes are declared by provider type → :func:`.handlers.conformance`
   states what bando really implements.
10. Refused filters and bodies are logged whole at ERROR, with tracebacks (a token
    holder's filter on an owner's name, a 950 KB body three times a second)
    → :func:`.quiet_logs`: pygeoapi's loggers are silenced; bando logs one line per
    refused request without its content (:mod:`bando.api_config.logs`).
11. A ``filter`` parameter is parsed as CQL2 text even with ``filter-lang=cql2-json``
    → :func:`.handlers.cql2_json_by_get` passes it on as the JSON body pygeoapi reads.
12. Queryables are titled with their names → :func:`.handlers.titled_queryables`: the
    catalogue's titles, in the request's language.
13. Unknown query parameters on items are ignored (Features Part 1 asks for 400), items are
    ``application/json`` rather than GeoJSON's type, unknown paths answer plain text, and
    ``/ogc`` redirects to ``/ogc/`` while its links name ``/ogc`` → :mod:`.routing` and
    :mod:`bando.api_config.app`: 400 naming the parameter, ``application/geo+json``, a JSON
    404, the landing page at both.
14. The TileMatrixSets pages read the template folder from the configuration's top level
    and so ignore ``server.templates`` (CDN assets, inline scripts) → :func:`.routing.make_api`
    puts the folder there too.
15. The OpenAPI document references the OGC standards' building blocks by absolute URL, leaves
    out filters, TileMatrixSets and tile metadata, tags what bando does not serve and carries
    pygeoapi's version → :func:`.openapi.complete`: self-contained and complete.
16. ``Accept: image/tiff`` on a coverage answers JSON → :func:`.handlers.tiff_by_accept`.
17. TileJSON (``f=tilejson``) is labelled ``application/json`` like the OGC TileSet document
    → :func:`.handlers.tilejson_type`: ``application/vnd.mapbox.tile+json``, as its links say.
18. Coverage collections carry no ``crs`` or ``storageCrs`` (pygeoapi lists them for features
    only) → :func:`.handlers.coverage_crs` adds them from the layer's storage CRS.
19. The coverage HTML page inlines the whole CoverageJSON (megabytes) and loads its map
    libraries from CDNs → bando's ``collections/coverage/index.html`` shows the grid and links.
"""

from __future__ import annotations

import logging

import pygeoapi

from bando.api_config.pygeoapi_seam import crs
from bando.api_config.pygeoapi_seam.handlers import note_not_found, note_unavailable, to_provider_error
from bando.api_config.pygeoapi_seam.routing import make_api, ogc_app
from bando.errors import SetupError

#: The pygeoapi release series this package was written and tested for.
PINNED_SERIES = "0.24."


def install() -> None:
    """Check the pygeoapi version and put the CRS and logging adaptations in place (idempotent)."""
    if not pygeoapi.__version__.startswith(PINNED_SERIES):
        raise SetupError(
            f"bando's pygeoapi adaptations are written for pygeoapi {PINNED_SERIES}x, but "
            f"{pygeoapi.__version__} is installed; install bando's pinned version (pip install -e .)"
        )
    crs.install()
    quiet_logs()


def quiet_logs() -> None:
    """pygeoapi's log lines carry what clients sent: none of them is written (bando logs its own)."""
    upstream = logging.getLogger("pygeoapi")
    upstream.setLevel(logging.CRITICAL + 1)
    upstream.propagate = False
    if not any(isinstance(h, logging.NullHandler) for h in upstream.handlers):
        upstream.addHandler(logging.NullHandler())  # not even Python's last-resort handler


__all__ = [
    "PINNED_SERIES",
    "install",
    "make_api",
    "note_not_found",
    "note_unavailable",
    "ogc_app",
    "quiet_logs",
    "to_provider_error",
]
