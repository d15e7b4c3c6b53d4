"""Reading ``layers/*.yml`` into validated :class:`~layers.model.Layer` objects.

A malformed entry stops everything with one line naming the file, the field and the
reason: a steward fixing YAML needs that line, not a pydantic dump.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bando.errors import CatalogueError, NotFound
from bando.layers.model import Layer

#: libyaml's loader where PyYAML has it (ten times faster), for every YAML file bando reads in bulk
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

LAYERS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Catalogue:
    layers: dict[str, Layer]
    version: str  # content hash of the YAML files: recorded in every lineage row

    def __iter__(self):
        return iter(self.layers.values())

    def __len__(self) -> int:
        return len(self.layers)

    def get(self, layer_id: str) -> Layer:
        try:
            return self.layers[layer_id]
        except KeyError:
            known = ", ".join(sorted(self.layers))
            raise NotFound(f"no layer {layer_id!r} in the catalogue (known: {known})") from None


def _where(loc: tuple, raw: dict) -> str:
    """'fields.1.type' reads better as 'fields.1(duongKinh).type' for a steward."""
    parts: list[str] = []
    node: Any = raw
    for part in loc:
        node = node[part] if isinstance(node, (dict, list)) and _has(node, part) else None
        label = str(part)
        if isinstance(part, int) and isinstance(node, dict) and "name" in node:
            label += f"({node['name']})"
        parts.append(label)
    return ".".join(parts) or "(top level)"


def _has(node: dict | list, part: object) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(part, int) and 0 <= part < len(node)


def _one_line(path: Path, exc: ValidationError, raw: dict) -> str:
    err = exc.errors()[0]
    where = _where(tuple(err["loc"]), raw)
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    msg = err["msg"].removeprefix("Value error, ")
    return f"{path.name}: {where}: {msg}{more}"


def load_layer(path: Path) -> Layer:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CatalogueError(f"{path.name}:{line}: not valid YAML: {problem}") from None
    if not isinstance(raw, dict):
        raise CatalogueError(f"{path.name}: expected a mapping of layer settings")
    if raw.get("id") != path.stem:
        raise CatalogueError(f"{path.name}: id: must equal the file name ({path.stem!r})")
    try:
        return Layer.model_validate(raw)
    except ValidationError as exc:
        raise CatalogueError(_one_line(path, exc, raw)) from None


def load(directory: Path = LAYERS_DIR) -> Catalogue:
    paths = sorted(directory.glob("*.yml"))
    if not paths:
        raise CatalogueError(f"no layer definitions (*.yml) in {directory}")
    digest = hashlib.sha256()
    layers = {}
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
        layer = load_layer(path)
        layers[layer.id] = layer
    for layer in layers.values():
        if layer.parent and layer.parent not in layers:
            raise CatalogueError(f"{layer.id}.yml: parent: no layer {layer.parent!r}")
    kinds: dict[str, str] = {}
    for layer in layers.values():
        if layer.search and kinds.setdefault(layer.search.kind, layer.id) != layer.id:
            other = kinds[layer.search.kind]
            raise CatalogueError(f"{layer.id}.yml: search.kind: {layer.search.kind!r} is already {other}'s")
    return Catalogue(layers, digest.hexdigest()[:12])


@lru_cache(maxsize=4)
def cached(directory: Path = LAYERS_DIR) -> Catalogue:
    """The catalogue, read once per process (servers and long loads)."""
    return load(directory)
