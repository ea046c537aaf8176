"""Letters: WeasyPrint PDF, the EPC QR read back from the printed page, the daily batch.

Real tools: poppler's ``pdftotext``/``pdftoppm``/``pdfinfo`` (``make system``) read the PDF
as a print shop would, and zxing-cpp decodes the QR code from a 200 dpi raster of the page,
as a banking app's camera would.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import json
import re
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from respite.adapters.bank.epc_qr import epc_payload, epc_qr_png
from respite.adapters.channels.base import Outgoing
from respite.adapters.channels.letters import (
    MANIFEST_HEADER,
    LetterChannel,
    guess_postcode,
    print_batch,
    render_pdf,
)
from respite.domain.money import Money
from respite.domain.references import create_rf, format_rf

ON = date(2026, 3, 2)
IBAN = "NL91ABNA0417164300"
BIC = "ABNANL2A"
BENEFICIARY = "Incassobureau Zuidoost B.V."
PORTAL = "https://portal.example/login"


def letter_html(
    *, name: str, lines: tuple[str, ...], amount: str, reference: str, code: str, pages: int = 1
) -> str:
    """A plain sample letter (not the real templates): window address, amount, QR, login."""
    png = epc_qr_png(
        name=BENEFICIARY, iban=IBAN, bic=BIC, amount=Money.of(amount), reference=reference
    )
    qr = base64.b64encode(png).decode("ascii")
    esc = html.escape
    address = "<br>".join(esc(line) for line in (name, *lines))
    filler = "".join(
        f'<p style="page-break-before: always">Bijlage {n} van {pages - 1}.</p>'
        for n in range(1, pages)
    )
    shown = f"{Money.of(amount).amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
    return f"""<!doctype html><html lang="nl"><head><meta charset="utf-8"><style>
      @page {{ size: A4; margin: 20mm 20mm 20mm 25mm; }}
      body {{ font-family: 'DejaVu Sans', sans-serif; font-size: 11pt; }}
      .window {{ margin-top: 25mm; height: 40mm; }}
      .qr {{ width: 40mm; height: 40mm; }}
    </style></head><body>
      <div class="window">{address}</div>
      <h1>Uw openstaande bedrag</h1>
      <p>Te betalen: € {shown}</p>
      <p>Betalingskenmerk: {format_rf(reference)}</p>
      <p>Scan de code met uw bankapp:</p>
      <img class="qr" src="data:image/png;base64,{qr}" alt="EPC QR">
      <p>Of ga naar {PORTAL} en log in met code {code}.</p>
      {filler}
    </body></html>"""


def letter_pdf(
    folder: Path, *, name: str, lines: tuple[str, ...], amount: str, reference: str, code: str
) -> Path:
    """``folder/letter.pdf``: the sample letter of :func:`letter_html`, printed."""
    pdf = folder / "letter.pdf"
    pdf.write_bytes(
        render_pdf(
            letter_html(name=name, lines=lines, amount=amount, reference=reference, code=code)
        )
    )
    return pdf


def pdftotext(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


def pdf_pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    match = re.search(r"^Pages:\s+(\d+)$", info, re.MULTILINE)
    assert match is not None
    return int(match.group(1))


def page_png(pdf: Path, out_prefix: Path, page: int = 1) -> Path:
    subprocess.run(
        [
            *("pdftoppm", "-r", "200", "-png", "-singlefile"),
            *("-f", str(page), "-l", str(page), str(pdf), str(out_prefix)),
        ],
        check=True,
    )
    return out_prefix.with_suffix(".png")


def decode_qr(png: Path) -> list[str]:
    with Image.open(png) as image:
        found = zxingcpp.read_barcodes(image)
    return [b.text for b in found if b.format == zxingcpp.BarcodeFormat.QRCode]


def outgoing(message_id: int, html_text: str, name: str, lines: tuple[str, ...]) -> Outgoing:
    return Outgoing(
        message_id=message_id,
        channel="post",
        to=name,
        sender_name=BENEFICIARY,
        sender_email="post@incasso.example",
        text="(letter)",
        html=html_text,
        address_lines=(name, *lines),
        country="NL",
        business_date=ON,
    )


def test_letter_pdf_shows_amount_reference_portal_and_login_code(tmp_path: Path) -> None:
    reference = create_rf("20260042")
    pdf = letter_pdf(
        tmp_path,
        name="Zoë de Vries",
        lines=("Dorpsstraat 1", "1234 AB Ons Dorp"),
        amount="1234.56",
        reference=reference,
        code="K7QF-3MZP-X2LA",
    )
    text = pdftotext(pdf)
    assert "€ 1.234,56" in text
    assert format_rf(reference) in text
    assert PORTAL in text
    assert "K7QF-3MZP-X2LA" in text
    assert "Zoë de Vries" in text


def test_epc_qr_read_from_the_printed_page_is_the_epc069_12_payload(tmp_path: Path) -> None:
    reference = create_rf("20260042")  # RF + check digits, ISO 11649
    pdf = letter_pdf(
        tmp_path,
        name="Jan Jansen",
        lines=("Kerkweg 12", "5611 AA Eindhoven"),
        amount="87.50",
        reference=reference,
        code="ABCD-EFGH-JKLM",
    )
    decoded = decode_qr(page_png(pdf, tmp_path / "page"))
    assert len(decoded) == 1
    lines = decoded[0].split("\n")
    # EPC069-12 v3.1 §3.4: one element per line, in this order, trailing empties left out.
    assert lines == [
        "BCD",  # service tag
        "002",  # version
        "1",  # character set: UTF-8
        "SCT",  # identification: SEPA credit transfer
        BIC,
        BENEFICIARY,
        IBAN,
        "EUR87.5",  # amount: EUR, '.' decimal separator, no trailing zero
        "",  # purpose code (none)
        reference,  # structured remittance: the RF reference, compact
    ]
    assert decoded[0] == epc_payload(
        name=BENEFICIARY, iban=IBAN, bic=BIC, amount=Money.of("87.50"), reference=reference
    )


def test_letter_channel_spools_html_and_metadata_under_the_business_date(
    tmp_path: Path,
) -> None:
    channel = LetterChannel(tmp_path / "spool")
    html_text = letter_html(
        name="Jan Jansen",
        lines=("Kerkweg 12", "5611 AA Eindhoven"),
        amount="10.00",
        reference=create_rf("1"),
        code="AAAA-BBBB-CCCC",
    )
    result = channel.send(outgoing(7, html_text, "Jan Jansen", ("Kerkweg 12", "5611 AA Eindhoven")))
    assert result.status == "sent"
    folder = tmp_path / "spool" / "2026-03-02"
    assert result.provider_ref == str(folder / "00000007.html")
    assert sorted(p.name for p in folder.iterdir()) == ["00000007.html", "00000007.json"]
    meta = json.loads((folder / "00000007.json").read_text(encoding="utf-8"))
    source = (folder / "00000007.html").read_bytes()
    assert meta["sha256"] == hashlib.sha256(source).hexdigest()
    assert source.decode("utf-8") == html_text  # spooled as given: laid out in the batch


def test_business_date_may_come_from_the_x_business_date_header(tmp_path: Path) -> None:
    message = Outgoing(
        4, "post", "A", "B", "b@example.org", "text", headers={"X-Business-Date": "2026-03-05"}
    )
    result = LetterChannel(tmp_path).send(message)
    assert result.provider_ref == str(tmp_path / "2026-03-05" / "00000004.html")


def test_letter_without_business_date_is_a_programming_error(tmp_path: Path) -> None:
    channel = LetterChannel(tmp_path)
    message = Outgoing(1, "post", "A", "B", "b@example.org", "text")
    with pytest.raises(ValueError, match="business date"):
        channel.send(message)


def test_letter_without_html_is_printed_from_its_text(tmp_path: Path) -> None:
    channel = LetterChannel(tmp_path)
    message = Outgoing(
        3,
        "post",
        "Anna <Smit>",
        "B",
        "b@example.org",
        "Geachte mevrouw Smit,\n\nUw betaling is ontvangen.",
        address_lines=("Anna <Smit>", "Laan 3", "9999 ZZ Stad"),
        business_date=ON,
    )
    result = channel.send(message)
    assert result.status == "sent"
    batch = channel.print_batch(ON, tmp_path / "out")
    assert batch.pdf_path is not None
    text = pdftotext(batch.pdf_path)
    assert "Anna <Smit>" in text
    assert "Uw betaling is ontvangen." in text


@pytest.mark.parametrize(
    ("lines", "postcode"),
    [
        (("Jan", "Kerkweg 12", "5611 AA Eindhoven"), "5611 AA"),
        (("Jan", "Rue Haute 3", "1000 Bruxelles"), "1000"),
        (("Jan", "ul. Długa 5", "00-950 Warszawa"), "00-950"),
        (("Jan", "Somewhere"), ""),
    ],
)
def test_postcode_is_found_in_the_window_address(lines: tuple[str, ...], postcode: str) -> None:
    assert guess_postcode(lines) == postcode


def spool_three(tmp_path: Path) -> Path:
    spool = tmp_path / "spool"
    channel = LetterChannel(spool)
    people = [
        (12, "Piet Bakker", ("Molenweg 5", "3511 AB Utrecht"), "50.00", 1),
        (3, "Zoë de Vries", ("Dorpsstraat 1", "1234 AB Ons Dorp"), "1234.56", 2),
        (7, "Jan Jansen", ("Kerkweg 12", "5611 AA Eindhoven"), "87.50", 1),
    ]
    for message_id, name, lines, amount, pages in people:
        html_text = letter_html(
            name=name,
            lines=lines,
            amount=amount,
            reference=create_rf(str(message_id)),
            code="ABCD-EFGH-JKLM",
            pages=pages,
        )
        assert channel.send(outgoing(message_id, html_text, name, lines)).status == "sent"
    # Another day's letter stays out of this day's batch.
    other = outgoing(
        99,
        letter_html(name="X", lines=("Y",), amount="1", reference=create_rf("99"), code="Z"),
        "X",
        ("Y",),
    )
    assert channel.send(replace(other, business_date=date(2026, 3, 3))).status == "sent"
    return spool


def test_print_batch_is_one_pdf_in_message_id_order_with_a_manifest(tmp_path: Path) -> None:
    spool = spool_three(tmp_path)
    result = print_batch(spool, ON, tmp_path / "out")
    assert result.pdf_path == tmp_path / "out" / "letters-2026-03-02.pdf"
    assert result.manifest_path == tmp_path / "out" / "letters-2026-03-02.csv"
    assert (result.letters, result.pages) == (3, 4)
    assert pdf_pages(result.pdf_path) == 4
    assert result.sha256 == hashlib.sha256(result.pdf_path.read_bytes()).hexdigest()

    with result.manifest_path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == MANIFEST_HEADER
    body = [dict(zip(MANIFEST_HEADER, row, strict=True)) for row in rows[1:]]
    assert [(r["sequence"], r["message_id"], r["first_page"], r["pages"]) for r in body] == [
        ("1", "3", "1", "2"),
        ("2", "7", "3", "1"),
        ("3", "12", "4", "1"),
    ]
    assert body[0]["recipient_name"] == "Zoë de Vries"
    assert body[0]["address"] == "Dorpsstraat 1, 1234 AB Ons Dorp"
    assert (body[0]["postcode"], body[0]["country"]) == ("1234 AB", "NL")
    single = spool / "2026-03-02" / "00000003.html"
    assert body[0]["sha256"] == hashlib.sha256(single.read_bytes()).hexdigest()

    # Each manifest row's first page is that letter's page in the batch.
    text = pdftotext(result.pdf_path).split("\f")
    assert "Zoë de Vries" in text[0]
    assert "Bijlage 1 van 1" in text[1]
    assert "Jan Jansen" in text[2]
    assert "Piet Bakker" in text[3]


def test_print_batch_run_twice_gives_identical_files(tmp_path: Path) -> None:
    spool = spool_three(tmp_path)
    first = print_batch(spool, ON, tmp_path / "out")
    assert first.pdf_path is not None
    pdf, manifest = first.pdf_path.read_bytes(), first.manifest_path.read_bytes()
    again = LetterChannel(spool).print_batch(ON, tmp_path / "out")
    assert again == first
    assert first.pdf_path.read_bytes() == pdf
    assert first.manifest_path.read_bytes() == manifest
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "letters-2026-03-02.csv",
        "letters-2026-03-02.pdf",
    ]


def test_print_batch_refuses_a_letter_changed_after_spooling(tmp_path: Path) -> None:
    spool = spool_three(tmp_path)
    (spool / "2026-03-02" / "00000007.html").write_bytes(b"<p>tampered</p>")
    with pytest.raises(ValueError, match=r"00000007\.html was changed"):
        print_batch(spool, ON, tmp_path / "out")
    assert not (tmp_path / "out" / "letters-2026-03-02.csv").exists()


def test_print_batch_of_an_empty_day_writes_only_the_manifest_header(tmp_path: Path) -> None:
    result = print_batch(tmp_path / "spool", ON, tmp_path / "out")
    assert (result.pdf_path, result.letters, result.pages) == (None, 0, 0)
    assert result.manifest_path.read_text(encoding="utf-8").splitlines() == [
        ",".join(MANIFEST_HEADER)
    ]
