"""``/wms``: WMS 1.3.0 from QGIS Server, forwarded as it is, within bando's limits.

bando renders nothing itself: the map server (:mod:`bando.cli.wms` starts QGIS Server, or
``BANDO_WMS_UPSTREAM`` names another) answers. This route passes GET requests with their
query string, refuses images larger than the server's own limit before they cost anything,
and answers 503 at once when the map server is down. The map server reads PostGIS as the
public role, so GetFeatureInfo can only ever show public fields.
"""

from __future__ import annotations

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bando.api_config.errors import problem

MAX_SIDE = 4096
PASSED_HEADERS = ("content-type", "content-disposition")


def _too_big(request: Request) -> str | None:
    params = {k.upper(): v for k, v in request.query_params.items()}
    for name in ("WIDTH", "HEIGHT"):
        value = params.get(name)
        if value is None:
            continue
        if not value.isdigit() or not 0 < int(value) <= MAX_SIDE:
            return f"{name} must be a whole number of pixels from 1 to {MAX_SIDE}"
    return None


def routes(upstream: str, timeout_s: float) -> list[Route]:
    """The ``/wms`` route forwarding to ``upstream``."""
    client = httpx.AsyncClient(base_url=upstream, timeout=timeout_s)

    async def wms(request: Request) -> Response:
        refused = _too_big(request)
        if refused:
            return problem(400, "InvalidParameterValue", refused)
        try:
            answer = await client.get("", params=request.url.query.encode("latin-1"))
        except httpx.TimeoutException:
            return problem(504, "Timeout", "the map server took too long; ask for a smaller image or extent")
        except httpx.HTTPError:
            return problem(
                503, "Unavailable", "the map server is not answering; try again shortly", **{"Retry-After": "5"}
            )
        headers = {k: v for k, v in answer.headers.items() if k.lower() in PASSED_HEADERS}
        return Response(answer.content, status_code=answer.status_code, headers=headers)

    return [Route("/wms", wms, methods=["GET", "HEAD"])]
