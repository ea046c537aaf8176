"""Letters: HTML rendered to PDF with WeasyPrint, spooled per business date, printed in
one daily batch (one PDF for the print shop plus a CSV manifest).

Spool layout (one folder per business date, one message per file stem, zero-padded so
that file order is message-id order)::

    spool_dir/2026-03-02/00000042.html   the letter's HTML, as given (what ``provider_ref``
                                         points at; the batch source)
    spool_dir/2026-03-02/00000042.json   recipient, address, sha256 of the HTML — written last

The JSON is the commit marker: a letter without one (a crash while spooling) is not in the
batch. Letters are laid out once, in the day's batch: ``print_batch`` renders the day's
stored HTML in message-id order and joins the pages with WeasyPrint's document API
(``Document.copy(pages)``), so no PDF library is needed and no letter is laid out twice (a
layout is most of a letter's cost: about 40 ms a page here); rendering is deterministic,
so the same day gives byte-identical files again.
Every file is written to a temporary name and renamed: a crash leaves the old file or the
new, never half of one. WeasyPrint may load ``data:`` URIs only (the EPC QR image is one):
nothing from the network or the file system.
"""

from __future__ import annotations

import atexit
import csv
import hashlib
import html as html_lib
import io
import json
import multiprocessing
import os
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pypdf import PdfReader, PdfWriter

from respite.adapters.channels.base import DeliveryResult, Outgoing

__all__ = [
    "MANIFEST_HEADER",
    "LetterChannel",
    "PrintBatchResult",
    "batch_paths",
    "guess_postcode",
    "print_batch",
    "render_pdf",
    "spooled_letters",
]

MANIFEST_HEADER = (
    "sequence",
    "message_id",
    "first_page",
    "pages",
    "recipient_name",
    "address",
    "postcode",
    "country",
    "sha256",
)

# Postcodes in the window address, tried on the lines from the bottom up: NL "1234 AB",
# PL "00-950", then a 4- or 5-digit code at the start of a line (BE, DE, FR, ...).
_POSTCODES = (
    re.compile(r"\b([1-9]\d{3} ?[A-Z]{2})\b"),
    re.compile(r"\b(\d{2}-\d{3})\b"),
    re.compile(r"^(?:[A-Z]{1,2}-)?(\d{4,5})\b"),
)


def _url_fetcher() -> Any:
    from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]

    return URLFetcher(allowed_protocols={"data"}, fail_on_errors=False)


def _render(html: str) -> Any:
    """The laid-out WeasyPrint ``Document``."""
    from weasyprint import HTML  # type: ignore[import-untyped]

    return HTML(string=html, url_fetcher=_url_fetcher()).render()


def render_pdf(html: str) -> bytes:
    """``html`` (a full page, A4 by its own ``@page`` rule) as PDF bytes; deterministic."""
    return bytes(_render(html).write_pdf())


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def guess_postcode(address_lines: tuple[str, ...]) -> str:
    """The postcode found in the window address, or ``""``."""
    for pattern in _POSTCODES:
        for line in reversed(address_lines[1:] or address_lines):
            match = pattern.search(line.strip())
            if match:
                return match.group(1)
    return ""


def _plain_letter(message: Outgoing) -> str:
    """A letter for an ``Outgoing`` without HTML: the address window and the text."""
    esc = html_lib.escape
    address = "<br>".join(esc(line) for line in message.address_lines or (message.to,))
    body = "".join(f"<p>{esc(p)}</p>" for p in message.text.split("\n\n"))
    return (
        '<!doctype html><html><head><meta charset="utf-8"><style>'
        "@page{size:A4;margin:20mm 20mm 20mm 25mm}"
        "body{font-family:'DejaVu Sans',sans-serif;font-size:10.5pt;line-height:1.4}"
        ".window{margin-top:25mm;height:40mm}p{white-space:pre-line}"
        f'</style></head><body><div class="window">{address}</div>{body}</body></html>'
    )


def _business_date(message: Outgoing) -> date:
    if message.business_date is not None:
        return message.business_date
    header = message.headers.get("X-Business-Date")
    if header:
        return date.fromisoformat(header)
    raise ValueError(
        f"letter {message.message_id} has no business date (set Outgoing.business_date)"
    )


class LetterChannel:
    """The ``post`` channel: ``send`` spools the letter under its business date; ``sent``
    means ready for the day's print batch (``provider_ref``: the spooled HTML's path)."""

    name = "post"

    def __init__(self, spool_dir: Path | str) -> None:
        self.spool_dir = Path(spool_dir)

    def send(self, message: Outgoing) -> DeliveryResult:
        # A missing date is the caller's bug, not a delivery problem: it raises.
        on = _business_date(message)
        html = message.html or _plain_letter(message)
        folder = self.spool_dir / on.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{message.message_id:08d}"
        name = message.to.strip() or (message.address_lines[0] if message.address_lines else "")
        lines = message.address_lines
        if lines and lines[0].strip() == name:
            lines = lines[1:]  # the name is its own manifest column
        meta = {
            "message_id": message.message_id,
            "business_date": on.isoformat(),
            "recipient_name": name,
            "address_lines": list(lines),
            "postcode": message.postcode or guess_postcode(message.address_lines),
            "country": message.country,
            "sha256": _sha256(html.encode("utf-8")),
        }
        try:
            _atomic_write(folder / f"{stem}.html", html.encode("utf-8"))
            meta_bytes = json.dumps(meta, ensure_ascii=False, indent=1, sort_keys=True)
            _atomic_write(folder / f"{stem}.json", meta_bytes.encode("utf-8"))
        except OSError as exc:
            return DeliveryResult("retry", detail=f"spool not writable: {type(exc).__name__}")
        return DeliveryResult("sent", provider_ref=str(folder / f"{stem}.html"))

    def print_batch(self, on: date, out_dir: Path | str) -> PrintBatchResult:
        """The print batch of this channel's spool for ``on`` (see :func:`print_batch`)."""
        return print_batch(self.spool_dir, on, out_dir)


@dataclass(frozen=True, slots=True)
class PrintBatchResult:
    """``pdf_path`` is ``None`` when the day has no letters (the manifest then has only
    its header row); ``sha256``: of the batch PDF."""

    pdf_path: Path | None
    manifest_path: Path
    letters: int
    pages: int
    sha256: str


def spooled_letters(spool_dir: Path | str, on: date) -> list[dict[str, Any]]:
    """The metadata of the letters spooled for ``on``, in message-id order."""
    folder = Path(spool_dir) / on.isoformat()
    if not folder.is_dir():
        return []
    letters = [json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")]
    return sorted(letters, key=lambda meta: int(meta["message_id"]))


def batch_paths(out_dir: Path | str, on: date) -> tuple[Path, Path]:
    """Where the batch for ``on`` goes: ``letters-<date>.pdf`` and ``letters-<date>.csv``."""
    out = Path(out_dir)
    return out / f"letters-{on.isoformat()}.pdf", out / f"letters-{on.isoformat()}.csv"


def print_batch(spool_dir: Path | str, on: date, out_dir: Path | str) -> PrintBatchResult:
    """Join the letters spooled for ``on`` into one PDF and write the CSV manifest.

    Raises ``ValueError`` when a spooled letter was changed after spooling (its HTML no
    longer matches the recorded sha256) or cannot be laid out.
    """
    folder = Path(spool_dir) / on.isoformat()
    pdf_path, manifest_path = batch_paths(out_dir, on)
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    letters = spooled_letters(spool_dir, on)
    sources: list[str] = []
    for meta in letters:
        stem = f"{int(meta['message_id']):08d}"
        source = (folder / f"{stem}.html").read_bytes()
        if _sha256(source) != meta["sha256"]:
            raise ValueError(f"spooled letter {stem}.html was changed after spooling")
        sources.append(source.decode("utf-8"))
    batch, page_counts = _layout(sources)
    rows: list[tuple[object, ...]] = []
    first_page = 1
    for sequence, (meta, count) in enumerate(zip(letters, page_counts, strict=True), start=1):
        rows.append(
            (
                sequence,
                meta["message_id"],
                first_page,
                count,
                meta["recipient_name"],
                ", ".join(meta["address_lines"]),
                meta["postcode"],
                meta["country"],
                meta["sha256"],
            )
        )
        first_page += count

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(MANIFEST_HEADER)
    writer.writerows(rows)
    manifest = out.getvalue().encode("utf-8")

    if not rows:
        pdf_path.unlink(missing_ok=True)  # a day emptied since the last run
        _atomic_write(manifest_path, manifest)
        return PrintBatchResult(None, manifest_path, 0, 0, "")
    # The PDF first, the manifest last: a manifest names a complete batch.
    _atomic_write(pdf_path, batch)
    _atomic_write(manifest_path, manifest)
    return PrintBatchResult(pdf_path, manifest_path, len(rows), sum(page_counts), _sha256(batch))


# Laying out a letter costs about 0.1 s of CPU: a day's batch of thousands is laid out in
# chunks on every core (worker processes, reused between batches), and the chunk PDFs are
# joined with pypdf. Small batches stay in this process.
PARALLEL_FROM = 16
CHUNK_LETTERS = 25
_pool: ProcessPoolExecutor | None = None


def _layout_chunk(sources: Sequence[str]) -> tuple[bytes, list[int]]:
    """One PDF of ``sources`` in order, and the number of pages of each."""
    documents = []
    for n, source in enumerate(sources):
        try:
            documents.append(_render(source))
        except Exception as exc:  # WeasyPrint has no single error type
            raise ValueError(f"letter {n + 1} of the chunk cannot be laid out: {exc}") from exc
    pages = [page for document in documents for page in document.pages]
    return bytes(documents[0].copy(pages).write_pdf()), [len(d.pages) for d in documents]


def _workers() -> int:
    return max(
        1, min(len(os.sched_getaffinity(0)), int(os.environ.get("RESPITE_PRINT_WORKERS", "64")))
    )


def _layout(sources: Sequence[str]) -> tuple[bytes, list[int]]:
    global _pool
    if not sources:
        return b"", []
    workers = _workers()
    if len(sources) < PARALLEL_FROM or workers < 2:
        return _layout_chunk(sources)
    if _pool is None:
        # fork: the workers inherit the loaded fonts and modules and start at once.
        _pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        atexit.register(_pool.shutdown)
    parts = [sources[i : i + CHUNK_LETTERS] for i in range(0, len(sources), CHUNK_LETTERS)]
    results = list(_pool.map(_layout_chunk, parts))
    writer = PdfWriter()
    for pdf, _counts in results:
        writer.append(PdfReader(io.BytesIO(pdf)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), [count for _pdf, counts in results for count in counts]
