"""Every setting bando reads, in one typed object.

Nothing else in the code base reads ``os.environ``: a deployment is described by
``BANDO_…`` variables (and ``DATABASE_URL``), optionally from a ``.env`` file in the
project folder, so tests and operators can see every knob in one place.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Deployment settings; read once per process (see :func:`get_settings`)."""

    model_config = SettingsConfigDict(
        env_prefix="BANDO_", env_file=PROJECT_ROOT / ".env", extra="ignore",
        toml_file=PROJECT_ROOT / "bando.toml",
    )

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:  # fmt: skip
        """Environment first, then .env, then the deployment's bando.toml."""
        return init_settings, env_settings, dotenv_settings, TomlConfigSettingsSource(settings_cls), file_secret_settings

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
    pg_bindir: Path | None = Field(
        default=None, description="PostgreSQL server binaries; found automatically."
    )
    db_durable: bool = Field(
        default=True,
        description="fsync on the embedded cluster; tests turn it off for speed.",
    )
    province: str = Field(
        default="",
        description="the deployment's province: current or pre-2025 code or name (bando.toml or BANDO_PROVINCE)",
    )
    storage_crs: str | None = Field(
        default=None, description="override the storage TM-3 zone of a merged province, e.g. EPSG:9210"
    )
    layers_dir: Path = PROJECT_ROOT / "layers"
    # serving
    pool_size: int = Field(default=16, ge=1, description="database connections per server process")
    statement_timeout_ms: int = Field(default=15_000, ge=100, description="longest query a request may run")
    internal_tokens: str = Field(
        default="",
        description="comma-separated bearer tokens for /internal/ogc (or a file: BANDO_INTERNAL_TOKENS_FILE)",
    )
    internal_tokens_file: Path | None = None
    base_url: str = Field(default="", description="public URL of the server, e.g. https://gis.example.gov.vn")
    cors_origins: str = Field(default="", description="comma-separated origins allowed by CORS ('*' for any)")
    basemap_url: str = Field(default="", description="optional XYZ basemap for the web pages")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between clusters)."""
    get_settings.cache_clear()
