"""The connection to Chroma: the client, server faults as one-line errors, paged reads and
batched writes (Chroma caps both a single read and a single write).

`assistant.store.library.Library` keeps the library in it; nothing else opens a client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import StoreUnavailableError

if TYPE_CHECKING:
    from ..core.settings import Settings

# Chroma caps a single write; stay well under it.
WRITE_BATCH = 2000

# Chroma answers a get() with one SQL statement: past ~32k ids or $in values SQLite
# refuses it ("too many SQL variables"), so every bulk read goes through pages.
READ_PAGE = 5000


def get_all(
    coll: Any,
    *,
    ids: Sequence[str] | None = None,
    where: dict[str, Any] | None = None,
    include: Sequence[str] = ("metadatas",),
) -> dict[str, list[Any]]:
    """`coll.get(...)` for any number of records, read in pages; lists, never None."""
    out: dict[str, list[Any]] = {"ids": [], "documents": [], "metadatas": [], "embeddings": []}

    def add(got: dict[str, Any]) -> None:
        out["ids"].extend(got["ids"])
        for key in ("documents", "metadatas", "embeddings"):
            if key in include and got.get(key) is not None:
                out[key].extend(list(got[key]))

    if ids is not None:
        ids = list(ids)
        for start in range(0, len(ids), READ_PAGE):
            add(coll.get(ids=ids[start : start + READ_PAGE], include=list(include)))
        return out
    values = (where or {}).get("paper_id", {})
    if isinstance(values, dict) and len(values.get("$in", ())) > READ_PAGE:
        wanted = list(values["$in"])
        for start in range(0, len(wanted), READ_PAGE):
            part = get_all(
                coll,
                where={"paper_id": {"$in": wanted[start : start + READ_PAGE]}},
                include=include,
            )
            for key in out:
                out[key].extend(part[key])
        return out
    offset = 0
    while True:
        got = coll.get(where=where, include=list(include), limit=READ_PAGE, offset=offset)
        add(got)
        if len(got["ids"]) < READ_PAGE:
            return out
        offset += READ_PAGE


def open_client(settings: Settings) -> Any:
    """A Chroma client: to the server of the settings, else on the local data folder."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if settings.chroma_host:
            return chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        path = settings.resolved_chroma_path
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:  # chroma raises many types for "cannot reach/open"
        raise StoreUnavailableError(
            f"Cannot open the library at {settings.store_location}: {exc} - check "
            "PAPERLENS_CHROMA_HOST/PAPERLENS_CHROMA_PORT or PAPERLENS_DATA_DIR."
        ) from exc


def server_unreachable(settings: Settings, exc: BaseException) -> StoreUnavailableError | None:
    """The one-line error for a Chroma server that stopped answering, or None when ``exc``
    is something else (a bad request, a missing collection) that must surface as it is."""
    if not settings.chroma_host:
        return None
    import httpx  # installed with chromadb; only a server client raises its errors

    if not isinstance(exc, httpx.TransportError):
        return None
    host, port = settings.chroma_host, settings.chroma_port
    cause = " ".join(f"{type(exc).__name__}: {exc}".split())
    return StoreUnavailableError(
        f"Cannot reach the Chroma server at {host}:{port} ({cause}) - start it with "
        f"'chroma run --path DIR --host {host} --port {port}' or set "
        "PAPERLENS_CHROMA_HOST/PAPERLENS_CHROMA_PORT to a running server."
    )


class ServerCollection:
    """A collection on a Chroma server whose calls raise `StoreUnavailableError` when the
    server is gone, instead of httpx's transport errors. The client reconnects by itself,
    so the same object works again once the server is back."""

    def __init__(self, collection: Any, settings: Settings) -> None:
        self._collection = collection
        self._settings = settings

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attr(*args, **kwargs)
            except Exception as exc:
                error = server_unreachable(self._settings, exc)
                if error is None:
                    raise
                raise error from exc

        return call


def upsert(
    coll: Any, ids: list[str], vecs: list[Any], docs: list[str], metas: list[dict[str, Any]]
) -> None:
    """`coll.upsert` of any number of records, in batches Chroma accepts."""
    for start in range(0, len(ids), WRITE_BATCH):
        end = start + WRITE_BATCH
        coll.upsert(
            ids=ids[start:end],
            embeddings=np.asarray(vecs[start:end], dtype=np.float32),
            documents=docs[start:end],
            metadatas=metas[start:end],
        )
