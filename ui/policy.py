"""What the chat's server takes from the network besides its pages and events (ASGI middleware).

- ``POST /gradio_api/upload``, the route behind the Articles panel's file input (the app's
  only one), takes at most ``MAX_FILES`` files, each named with an accepted suffix. Gradio
  stores whatever reaches that route, for any component, so the body (bounded by the
  limits) is read and checked here before Gradio sees it; Gradio's own ``max_file_size``
  then refuses any one file over ``MAX_FILE_BYTES``.
- ``/gradio_api/file=…`` is refused, always: the app shows no files, and Gradio would
  serve back anything in its upload folder to whoever names it. An upload is read by the
  server, never handed out.

>>> problem(b'--B\\r\\nContent-Disposition: form-data; name="files"; filename="a.exe"\\r\\n'
...         b'\\r\\nMZ\\r\\n--B--\\r\\n', b"B")
'unsupported type .exe: use .htm, .html, .md, .pdf, .txt'
"""

from __future__ import annotations

import re
from pathlib import PurePath
from urllib.parse import unquote

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.ingest.files import SUFFIXES
from rag.ingest.uploads import ACCEPTED, MAX_FILE_BYTES, MAX_FILE_MB, MAX_FILES, display_name

LIMIT = MAX_FILES * MAX_FILE_BYTES + 256 * 1024  # the files, and the multipart framing
TOO_LARGE = f"too large: at most {MAX_FILES} files of {MAX_FILE_MB} MB each"
_FILE_ROUTE = re.compile(r"(?:^|/)file=")
_FILENAME = re.compile(rb'filename(\*?)=(?:"([^"\r\n]*)"|([^;\r\n]*))', re.IGNORECASE)
_BOUNDARY = re.compile(rb'boundary="?([^";]+)"?', re.IGNORECASE)


class UploadPolicy:
    """The middleware: refuses what the module docstring lists, passes the rest to Gradio."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if _FILE_ROUTE.search(path):
            await PlainTextResponse("this app serves no files", status_code=403)(
                scope, receive, send
            )
        elif path.rstrip("/").endswith("/upload") and scope["method"] == "POST":
            await self._upload(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"0")
        if not length.isdigit() or int(length) > LIMIT:
            await PlainTextResponse(TOO_LARGE, status_code=413)(scope, receive, send)
            return
        body = await _read(receive)
        if body is None:
            await PlainTextResponse(TOO_LARGE, status_code=413)(scope, receive, send)
            return
        found = _BOUNDARY.search(headers.get(b"content-type", b""))
        refused = problem(body, found.group(1)) if found else ""
        if refused:
            await PlainTextResponse(refused, status_code=415)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def problem(body: bytes, boundary: bytes) -> str:
    """Why a multipart upload body is refused: too many files, or one of a refused type."""
    names = []
    for part in body.split(b"--" + boundary):
        head = part.split(b"\r\n\r\n", 1)[0]
        if b"filename" not in head.lower():
            continue
        found = _FILENAME.search(head)
        if found is None:
            return "an upload whose file name cannot be read"
        raw = (found.group(2) or found.group(3) or b"").decode("utf-8", "replace").strip()
        names.append(unquote(raw.split("''", 1)[-1]) if found.group(1) else raw)
    if len(names) > MAX_FILES:
        return f"too many files: at most {MAX_FILES} at once"
    for name in names:
        suffix = PurePath(display_name(name)).suffix.lower()
        if suffix not in SUFFIXES:
            return f"unsupported type {suffix or '(no extension)'}: use {ACCEPTED}"
    return ""


async def _read(receive: Receive) -> bytes | None:
    """The whole request body; None past ``LIMIT`` (a body sent without a length)."""
    pieces, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; Gradio will see an empty body
        pieces.append(message.get("body", b""))
        size += len(pieces[-1])
        if size > LIMIT:
            return None
        more = message.get("more_body", False)
    return b"".join(pieces)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then whatever the client sends next."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed
