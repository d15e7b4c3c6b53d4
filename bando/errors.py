"""bando's domain errors, and the one place that maps them to exit codes.

Every refusal a steward or client can meet is one of these, carrying a message that
says what to do. The CLI maps them to exit codes here; the API maps them to HTTP
statuses in its own error module.
"""

from __future__ import annotations


class BandoError(Exception):
    """Base class: a message meant for a person, never a traceback."""

    exit_code = 1


class BadInput(BandoError):
    """The request, file or argument cannot be used as given."""

    exit_code = 2


class TooExpensive(BadInput):
    """The database stopped a query that ran past its time: the client must narrow the request."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"truy vấn chạy quá {seconds:.3g} giây nên đã bị dừng; hãy thu hẹp yêu cầu / the query ran longer than"
            f" {seconds:.3g} s and was stopped: narrow it (a smaller bbox or area, a stricter filter, a lower limit)"
        )


class NotFound(BandoError):
    exit_code = 3


class LoadRefused(BandoError):
    """A load that validation or a fatal defect stopped; the published layer is untouched."""

    exit_code = 4


#: What a client or steward is told whenever the database cannot be reached.
DB_UNAVAILABLE = "the database is not answering; try again shortly"


class Unavailable(BandoError):
    """The database or another service bando needs is not reachable."""

    exit_code = 5

    def __init__(self, message: str = DB_UNAVAILABLE) -> None:
        super().__init__(message)


class CatalogueError(BandoError):
    """A layer definition in ``layers/`` is malformed."""

    exit_code = 6


class SetupError(BandoError):
    """The machine lacks something bando needs (PostGIS, PostgreSQL binaries…)."""

    exit_code = 7
