"""Generated database passwords, one owner-only file per role under ``BANDO_HOME/secrets``.

The embedded cluster's superuser and bando's three login roles (see :mod:`bando.roles`)
authenticate with SCRAM passwords nobody types: ``bando db up`` generates them once and
keeps them here (folder 0700, files 0600), where only the account bando runs as can read
them. A file is written under a temporary name and renamed, so a reader never sees half
a password.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


class Passwords:
    def __init__(self, home: Path) -> None:
        self.folder = home / "secrets"

    def path(self, role: str) -> Path:
        return self.folder / role

    def get(self, role: str) -> str | None:
        try:
            return self.path(role).read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def ensure(self, role: str) -> str:
        """The role's password, generated and stored on first use."""
        return self.get(role) or self.put(role, secrets.token_urlsafe(24))

    def put(self, role: str, password: str) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        tmp = self.folder / f".{role}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(password + "\n")
        tmp.chmod(0o600)
        tmp.replace(self.path(role))
        return password
