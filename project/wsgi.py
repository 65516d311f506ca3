"""The WSGI application gunicorn serves (`make run`, `make web`)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from project.heap import freeze_start_up_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

WSGIApp = Callable[[dict[str, Any], Callable], Iterable[bytes]]


def _is_chunked_and_terminated(environ: dict[str, Any]) -> bool:
    return (
        not environ.get("CONTENT_LENGTH")
        and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        and bool(environ.get("wsgi.input_terminated"))
    )


def _read_limit() -> int | None:
    """One byte past the largest body that is accepted; None (no limit) when Django has none."""
    if settings.DATA_UPLOAD_MAX_MEMORY_SIZE is None:
        return None
    return max(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, settings.INTAKE_MAX_BYTES) + 1


def read_chunked_bodies(app: WSGIApp) -> WSGIApp:
    """Give a chunked body the length Django needs to read it.

    Django reads a body only as far as CONTENT_LENGTH says, so a chunked body (no length; gunicorn
    de-chunks it and sets wsgi.input_terminated, PEP 3333's promise that reading to the end is
    safe) would read as empty. It is read here, at most one byte past the largest body Django or
    the intake accepts: a body over the limit keeps a length over it and gets the same 413 (or
    400) as when its length was declared.
    """

    def with_chunked_bodies(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if _is_chunked_and_terminated(environ):
            body = environ["wsgi.input"].read(_read_limit())
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return app(environ, start_response)

    return with_chunked_bodies


application = read_chunked_bodies(get_wsgi_application())
get_resolver().url_patterns  # noqa: B018 - every view imported now, not by the first request
freeze_start_up_objects()
