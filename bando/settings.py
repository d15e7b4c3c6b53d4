"""Every setting bando reads, in one typed object.

Nothing else in the code base reads ``os.environ``: a deployment is described by
``BANDO_…`` variables (and ``DATABASE_URL``), optionally from a ``.env`` file in the
project folder, so tests and operators can see every knob in one place.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

_CHECKOUT = Path(__file__).resolve().parent.parent
#: The project folder: the source checkout bando runs from, or (installed as a package)
#: the folder it is started in, which holds the deployment's bando.toml, .env and .bando/.
PROJECT_ROOT = _CHECKOUT if (_CHECKOUT / "pyproject.toml").is_file() else Path.cwd()


def _catalogue_dir() -> Path:
    """Where the ``bando.layers`` package keeps its YAML files, in a checkout or installed."""
    spec = importlib.util.find_spec("bando.layers")
    assert spec is not None and spec.submodule_search_locations, "bando.layers is part of bando"
    return Path(next(iter(spec.submodule_search_locations)))


class Settings(BaseSettings):
    """Deployment settings; read once per process (see :func:`get_settings`)."""

    model_config = SettingsConfigDict(
        env_prefix="BANDO_",
        env_file=PROJECT_ROOT / ".env",
        extra="ignore",
        toml_file=PROJECT_ROOT / "bando.toml",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment first, then .env, then the deployment's bando.toml."""
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            TomlConfigSettingsSource(settings_cls),
            file_secret_settings,
        )

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "BANDO_DATABASE_URL"),
        description="External PostgreSQL/PostGIS server; unset = embedded cluster.",
    )
    home: Path = Field(
        default=PROJECT_ROOT / ".bando",
        description="Folder for the embedded cluster, reports and caches.",
    )
    db_name: str = "bando"
    pg_bindir: Path | None = Field(default=None, description="PostgreSQL server binaries; found automatically.")
    db_durable: bool = Field(
        default=True,
        description="fsync on the embedded cluster; tests turn it off for speed.",
    )
    db_archive: bool = Field(
        default=True,
        description="WAL archiving and replication on the embedded cluster; false only for scratch clusters",
    )
    wal_archive: Path | None = Field(
        default=None, description="where the embedded cluster archives its WAL; default: BANDO_HOME/wal"
    )
    backup_dir: Path | None = Field(default=None, description="where `bando db backup` keeps base backups")
    province: str = Field(
        default="",
        description="the deployment's province: current or pre-2025 code or name (bando.toml or BANDO_PROVINCE)",
    )
    storage_crs: str | None = Field(
        default=None, description="override the storage TM-3 zone of a merged province, e.g. EPSG:9210"
    )
    layers_dir: Path = Field(default_factory=_catalogue_dir, description="the layer catalogue (YAML per layer)")
    readings_retention_months: int = Field(
        default=24, ge=0, description="`bando readings prune` deletes sensor readings older than this (0: keep all)"
    )
    # serving
    load_workers: int = Field(
        default=1, ge=1, le=256, description="Dask workers of a load's LocalCluster; 1 loads in-process"
    )
    dask_scheduler: str = Field(default="", description="a Dask scheduler's address: loads run on that cluster")
    pool_size: int = Field(default=16, ge=1, description="database connections (and worker threads) per view")
    statement_timeout_ms: int = Field(default=15_000, ge=100, description="longest query of the internal API")
    internal_tokens: str = Field(
        default="",
        description="comma-separated bearer tokens for /internal/ogc (or a file: BANDO_INTERNAL_TOKENS_FILE)",
    )
    internal_tokens_file: Path | None = None
    base_url: str = Field(default="", description="public URL of the server, e.g. https://gis.example.gov.vn")
    cors_origins: str = Field(
        default="*", description="origins allowed by CORS on the public API ('*': any, the data is open; '': none)"
    )
    downloads_dir: Path | None = Field(
        default=None, description="open-data downloads written at publish time; default: <home>/downloads"
    )
    log_json: bool = Field(default=False, description="write the server's log as JSON lines")
    cache_max_age: int = Field(default=60, ge=0, description="Cache-Control max-age (s) of the public API's answers")
    basemap_url: str = Field(default="", description="optional XYZ basemap for the web pages")
    wms: bool = Field(default=True, description="`bando serve` runs QGIS Server for /wms where QGIS is installed")
    wms_upstream: str = Field(
        default="", description="URL of the WMS server /wms forwards to; set by `bando serve` when it runs its own"
    )
    # the publisher, shown by the API, the records and the pages
    title: str = Field(default="", description="the deployment's title; default: the province's name")
    organisation: str = Field(default="", description="the publishing body; default: the province's People's Committee")
    contact_name: str = Field(
        default="Sở Nông nghiệp và Môi trường", description="who answers questions about the data"
    )
    contact_position: str = "Văn phòng Đăng ký đất đai"
    contact_email: str = Field(default="", description="the contact's e-mail address (omitted when empty)")
    licence_name: str = Field(default="CC-BY 4.0", description="licence of the published data")
    licence_url: str = "https://creativecommons.org/licenses/by/4.0/"
    # least privilege and bounded work (SECURITY.md)
    admin_database_url: str | None = Field(
        default=None,
        description="a superuser (or CREATEROLE) URL `bando db up` uses to create roles and grants; never the server",
    )
    api_database_url: str | None = Field(
        default=None, description="the public API's login (role bando_api); default: made by `bando db up`"
    )
    internal_database_url: str | None = Field(
        default=None, description="the internal API's login (role bando_internal); default: made by `bando db up`"
    )
    public_statement_timeout_ms: int = Field(default=5_000, ge=100, description="longest query of the public API")
    request_timeout_s: float = Field(default=30.0, gt=0, description="longest request; its SQL is cancelled then")
    max_vertices: int = Field(default=2_000, ge=4, description="vertices of a geometry in a filter or a process input")
    queue_size: int | None = Field(
        default=None, ge=0, description="requests per view waiting for a worker beyond the pool; default: pool size"
    )
    rate_limit: float = Field(default=50.0, ge=0, description="public API requests per second per client (0: off)")
    rate_burst: int = Field(default=200, ge=1, description="requests a client may send at once before the rate applies")
    rate_limit_exempt: str = Field(
        default="127.0.0.1,::1", description="client addresses or networks the rate limit leaves alone (this machine)"
    )
    trusted_proxies: str = Field(
        default="", description="comma-separated proxy addresses whose X-Forwarded-For names the client"
    )
    comment_limit: int = Field(
        default=10, ge=1, description="comments one client may post on draft plans per window; beyond it, 429"
    )
    comment_window_s: int = Field(default=600, ge=1, description="the window (s) the comment limit counts over")
    # scaling out (docs/deploy.md)
    cache_dir: Path | None = Field(
        default=None, description="the tile cache all server processes share; default: BANDO_HOME/cache"
    )
    tile_cache_mb: int = Field(
        default=512, ge=0, description="size of the shared tile cache (0: no cache); the LRU evicts beyond it"
    )
    read_urls: str = Field(
        default="", description="comma-separated URLs of read replicas the public API reads from (bando_api's login)"
    )
    read_replicas: bool = Field(default=True, description="false: the public API reads from the primary only")
    read_from_primary: bool = Field(
        default=False, description="the primary takes its turn among the replicas for public reads"
    )
    max_lag_s: float = Field(default=5.0, gt=0, description="a replica further behind than this is not read from")
    metrics_dir: Path | None = Field(
        default=None, description="set by `bando serve --workers N`: where the workers' counters meet for /metrics"
    )

    @property
    def wal_archive_dir(self) -> Path:
        return self.wal_archive or self.home / "wal"

    @property
    def backups_dir(self) -> Path:
        return self.backup_dir or self.home / "backups"

    @property
    def tile_cache_dir(self) -> Path:
        return self.cache_dir or self.home / "cache"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between clusters)."""
    get_settings.cache_clear()
