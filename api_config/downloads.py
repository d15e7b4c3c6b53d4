"""The open-data downloads on the public API: a listing per collection and the files themselves.

The files are written at publish time (:mod:`bando.pipelines.opendata`); here they are only
listed and streamed — a request never makes one. A name is served only when the current
manifest lists it, so no path a client sends reaches the file system.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from bando import downloads
from bando.api_config.errors import problem
from bando.settings import Settings


def links(settings: Settings, layer_id: str, collection_url: str) -> list[dict[str, Any]]:
    """``rel=enclosure`` links to a layer's current downloads (none before its first export)."""
    doc = downloads.manifest(settings, layer_id)
    if doc is None:
        return []
    out = []
    for f in doc.get("files", []):
        version = f.get("version", {}).get("id") if isinstance(f.get("version"), dict) else None
        title = f"{f['format']}" + (f" ({version})" if version else "")
        out.append(
            {
                "rel": "enclosure",
                "type": f["mediaType"],
                "title": title,
                "href": f"{collection_url}/downloads/{f['name']}",
                "length": f["size"],
            }
        )
    return out


def routes(settings: Settings, layers: dict[str, str], base_url: str) -> list[Route]:
    """``layers``: collection id → layer id of the collections that may have downloads."""

    async def listing(request: Request) -> Response:
        cid = request.path_params["collection_id"]
        doc = downloads.manifest(settings, layers[cid]) if cid in layers else None
        if doc is None:
            return problem(404, "NotFound", "this collection has no downloads (yet)")
        for f in doc.get("files", []):
            f["href"] = f"{base_url}/collections/{cid}/downloads/{f['name']}"
        return JSONResponse(doc)

    async def file(request: Request) -> Response:
        cid, name = request.path_params["collection_id"], request.path_params["name"]
        found = downloads.file_path(settings, layers[cid], name) if cid in layers else None
        if found is None:
            return problem(404, "NotFound", "no such download: see the collection's downloads")
        path, entry = found
        return FileResponse(path, filename=name, stat_result=path.stat(), media_type=str(entry["mediaType"]))

    return [
        Route("/collections/{collection_id}/downloads", listing, methods=["GET", "HEAD"]),
        Route("/collections/{collection_id}/downloads/{name}", file, methods=["GET", "HEAD"]),
    ]
