"""Hostile import files of issue 12 (item 3), written as streams: a part that inflates to 1.6 GB costs the writer
no memory. Used by tests/test_import_limits.py (small sizes) and bench/import_limits.py (the sizes of the issue).

Every builder writes to a binary file object (an open file, io.BytesIO) and returns it.
"""
from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Iterable
from typing import BinaryIO

from market.contracts.importer import COLUMNS

HEADERS = [label for _, label, _ in COLUMNS]  # the contract template's columns
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_XML = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _content_types(shared_strings: bool) -> bytes:
    strings = ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
               'officedocument.spreadsheetml.sharedStrings+xml"/>') if shared_strings else ""
    return _XML + (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        f'spreadsheetml.worksheet+xml"/>{strings}</Types>'
    ).encode()


_ROOT_RELS = _XML + (
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = _XML + (
    f'<workbook xmlns="{MAIN_NS}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="技术合同" sheetId="1" r:id="rId1"/></sheets></workbook>'
).encode()


def _workbook_rels(shared_strings: bool) -> bytes:
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
    strings = f'<Relationship Id="rId2" Type="{rel}sharedStrings" Target="sharedStrings.xml"/>' if shared_strings else ""
    return _XML + (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}worksheet" Target="worksheets/sheet1.xml"/>{strings}'
        f'<Relationship Id="rId9" Type="{rel}worksheet" Target="/xl/worksheets/missing.xml"/></Relationships>'
    ).encode()


def header_row() -> bytes:
    cells = "".join(f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{h}</t></is></c>' for i, h in enumerate(HEADERS))
    return f'<row r="1">{cells}</row>'.encode()


def xlsx(out: BinaryIO, *, sheet: Iterable[bytes], shared_strings: Iterable[bytes] | None = None,
         large: bool = False, workbook: bytes = _WORKBOOK, styles: Iterable[bytes] | None = None,
         empty_entries: int = 0) -> BinaryIO:
    """A minimal valid .xlsx whose first sheet's XML and shared-string table are the given byte chunks (and its
    workbook part and styles, when given; then `empty_entries` empty zip entries)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", _content_types(shared_strings is not None))
        zf.writestr("_rels/.rels", _ROOT_RELS)
        zf.writestr("xl/workbook.xml", workbook)
        zf.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(shared_strings is not None))
        parts = [("xl/worksheets/sheet1.xml", sheet)]
        if shared_strings is not None:
            parts.append(("xl/sharedStrings.xml", shared_strings))
        if styles is not None:
            parts.append(("xl/styles.xml", styles))
        for name, chunks in parts:
            with zf.open(name, "w", force_zip64=large) as part:
                for chunk in chunks:
                    part.write(chunk)
        for n in range(empty_entries):
            zf.writestr(zipfile.ZipInfo(f"{n:x}"), b"")
    return out


def _sheet(dimension: str | None, rows: Iterable[bytes]) -> Iterable[bytes]:
    yield _XML + f'<worksheet xmlns="{MAIN_NS}">'.encode()
    if dimension:
        yield f'<dimension ref="{dimension}"/>'.encode()
    yield b"<sheetData>"
    yield header_row()
    yield from rows
    yield b"</sheetData></worksheet>"


def dimension_lie(out: BinaryIO) -> BinaryIO:
    """About 1.7 KB: the header, one number in the sheet's last cell, and a <dimension> of A1:XFD1048576 (what
    openpyxl trusts: a million rows of 16,384 cells)."""
    return xlsx(out, sheet=_sheet("A1:XFD1048576", [b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>']))


def shared_strings_bomb(out: BinaryIO, *, inflated: int = 1_600_000_000) -> BinaryIO:
    """A shared-string table of `inflated` bytes of one repeated letter (deflate packs it about 1,000 to 1), with
    honest zip headers; the sheet is the header and one row referring to the first string."""
    piece = 1 << 20

    def strings():
        yield _XML + f'<sst xmlns="{MAIN_NS}">'.encode()
        text = b"A" * piece
        for _ in range(max(1, inflated // (piece + 16))):
            yield b"<si><t>" + text + b"</t></si>"
        yield b"</sst>"

    row = b'<row r="2">' + b"".join(b'<c r="%s2" t="s"><v>0</v></c>' % bytes([65 + i]) for i in range(11)) + b"</row>"
    return xlsx(out, sheet=_sheet("A1:K2", [row]), shared_strings=strings(), large=inflated >= 1 << 31)


def understate_part_size(out: io.BytesIO, name: str, declared: int) -> io.BytesIO:
    """Rewrite the zip headers (local and central) of part `name` to declare `declared` bytes inflated: what a
    bomb does to pass a check of declared sizes."""
    data = bytearray(out.getvalue())
    encoded = name.encode()
    # (signature, offset of the inflated size, of the name's length, of the name): local header, central directory
    for signature, size_at, length_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            length = struct.unpack_from("<H", data, start + length_at)[0]
            if data[start + name_at:start + name_at + length] == encoded:
                struct.pack_into("<I", data, start + size_at, declared)
            start += 4
    out.seek(0)
    out.truncate()
    out.write(bytes(data))
    return out


def blank_rows(out: BinaryIO, *, rows: int = 1_000_000, dimension: str = "A1:K2") -> BinaryIO:
    """The header, then `rows` empty rows under a small declared dimension (openpyxl yields every one)."""
    def empty_rows():
        batch = []
        for r in range(2, rows + 2):
            batch.append(b'<row r="%d" spans="1:11"/>' % r)
            if len(batch) == 10_000:
                yield b"".join(batch)
                batch = []
        yield b"".join(batch)

    return xlsx(out, sheet=_sheet(dimension, empty_rows()))


def long_line_csv(out: BinaryIO, *, length: int = 100 * 1024 * 1024) -> BinaryIO:
    """The header, then one line of `length` bytes (the first cell) and nothing else."""
    out.write(",".join(HEADERS).encode() + b"\n")
    piece = b"9" * (1 << 20)
    left = length
    while left > 0:
        out.write(piece[:min(left, len(piece))])
        left -= len(piece)
    out.write(b"\n")
    return out


def many_lines_jsonl(out: BinaryIO, *, lines: int = 1_000_000) -> BinaryIO:
    """`lines` short JSON objects, one a line."""
    batch = []
    for n in range(lines):
        batch.append(json.dumps({"registration_no": f"J{n:09d}"}).encode() + b"\n")
        if len(batch) == 10_000:
            out.write(b"".join(batch))
            batch = []
    out.write(b"".join(batch))
    return out


def every_cell_empty(out: BinaryIO, *, rows: int = 20_000, columns: int = 50) -> BinaryIO:
    """The most cells the limits let through: `rows` rows of `columns` empty cells each (the costliest XML to
    parse per byte), all within the declared dimension."""
    from openpyxl.utils import get_column_letter

    letters = [get_column_letter(i + 1).encode() for i in range(columns)]

    def full_rows():
        for r in range(2, rows + 2):
            yield b'<row r="%d">' % r + b"".join(b'<c r="%s%d"/>' % (letter, r) for letter in letters) + b"</row>"

    return xlsx(out, sheet=_sheet(f"A1:{get_column_letter(columns)}{rows + 1}", full_rows()))


def many_shared_strings(out: BinaryIO, *, count: int = 1_000_000) -> BinaryIO:
    """A shared-string table of `count` short distinct texts (random, so it does not compress like a bomb), the
    most the reader takes ((20,000 + 1) x 50 entries); the sheet is the header alone."""
    import random

    rng = random.Random(count)

    def strings():
        yield _XML + f'<sst xmlns="{MAIN_NS}">'.encode()
        for _ in range(count // 1000):
            yield b"".join(b"<si><t>%x</t></si>" % rng.getrandbits(40) for _ in range(1000))
        yield b"</sst>"

    return xlsx(out, sheet=_sheet("A1:K1", []), shared_strings=strings())


# --- found in review after the first fix (issue 12, item 3 reopened) ---------------------------------------

def _random_text(chars: int, seed: int = 2) -> bytes:
    """`chars` random letters a and b: deflate packs them about 6 to 1, under the compression-ratio check."""
    import random

    rng, piece = random.Random(seed), 1 << 16
    table = bytes(97 + (b & 1) for b in range(256))
    return b"".join(rng.getrandbits(8 * min(piece, chars - start)).to_bytes(min(piece, chars - start), "little")
                    .translate(table) for start in range(0, chars, piece))


def shared_string_rows(out: BinaryIO, *, chars: int = 30 * 1024 * 1024, rows: int = 5,
                       columns: str = "CDEFGHIJK") -> BinaryIO:
    """One shared string of `chars` characters, and `rows` rows of about 400 bytes that each refer to it in
    `columns` (<c t="s"><v>0</v></c>): few bytes per row, but every row holds columns x chars characters."""
    def strings():
        yield _XML + f'<sst xmlns="{MAIN_NS}" count="1" uniqueCount="1"><si><t>'.encode()
        piece = 1 << 20
        for start in range(0, chars, piece):
            yield _random_text(min(piece, chars - start), seed=start)
        yield b"</t></si></sst>"

    def data_rows():
        for r in range(2, rows + 2):
            yield (b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>R%08d</t></is></c>' % (r, r, r)
                   + ('<c r="B%d" t="inlineStr"><is><t>技术开发</t></is></c>' % r).encode()
                   + b"".join(b'<c r="%s%d" t="s"><v>0</v></c>' % (c.encode(), r) for c in columns) + b"</row>")

    return xlsx(out, sheet=_sheet(f"A1:K{rows + 1}", data_rows()), shared_strings=strings())


def entity_expansion(out: BinaryIO, *, levels: int = 6, padding: int = 20_000 * 1024,
                     part: str = "sharedStrings") -> BinaryIO:
    """A billion-laughs DTD (1,000 x's, then each entity ten of the one before, `levels` deep) and a comment of
    `padding` random bytes, in the shared strings (one item: the deepest entity) or in the worksheet (a cell of
    it). expat allows an expansion of 100 times the bytes read, which the padding provides."""
    entities = '<!ENTITY e0 "' + "x" * 1000 + '">' + "".join(
        f'<!ENTITY e{i} "' + f"&e{i - 1};" * 10 + '">' for i in range(1, levels + 1))
    root = "sst" if part == "sharedStrings" else "worksheet"
    prolog = (_XML + f"<!DOCTYPE {root} [{entities}]><!--".encode() + _random_text(padding) + b"-->")
    if part == "sharedStrings":
        strings = [prolog + f'<sst xmlns="{MAIN_NS}" count="1" uniqueCount="1"><si><t>&e{levels};</t></si></sst>'.encode()]
        row = b'<row r="2"><c r="A2" t="inlineStr"><is><t>R1</t></is></c><c r="D2" t="s"><v>0</v></c></row>'
        return xlsx(out, sheet=_sheet("A1:K2", [row]), shared_strings=strings)
    row = f'<row r="2"><c r="D2" t="inlineStr"><is><t>&e{levels};</t></is></c></row>'.encode()
    sheet = [prolog + f'<worksheet xmlns="{MAIN_NS}"><dimension ref="A1:K2"/><sheetData>'.encode(), header_row(), row,
             b"</sheetData></worksheet>"]
    return xlsx(out, sheet=sheet)


def many_sheets(out: BinaryIO, *, sheets: int = 80_000, empty_entries: int = 120_000) -> BinaryIO:
    """A workbook of `sheets` <sheet> elements, all pointing at a part that does not exist, and `empty_entries`
    empty zip entries besides the few real parts."""
    listed = "".join(f'<sheet name="s{i}" sheetId="{i + 1}" r:id="rId9"/>' for i in range(sheets))
    workbook = _XML + (
        f'<workbook xmlns="{MAIN_NS}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<sheets>{listed}</sheets></workbook>').encode()
    return xlsx(out, sheet=_sheet("A1:K1", []), workbook=workbook, empty_entries=empty_entries)


def bloated_styles(out: BinaryIO, *, size: int = 4 * 1024 * 1024 - 8000, tiny: bool = False) -> BinaryIO:
    """A styles part of about `size` bytes of random <xf> in <cellXfs> (the review's: about 40 bytes each; `tiny`:
    about 12), the last one a date format (14), and a row whose 签订日期 is the number 45731 in that style
    (2025-03-15) and its 合同成交额 12.5 in style 0."""
    import random

    rng = random.Random(3)
    xfs, total = [], 0
    while total < size:
        if tiny:
            xf = b'<xf s="%x"/>' % rng.getrandbits(8)
        else:
            xf = b'<xf numFmtId="%d" applyAlignment="%d"/>' % (rng.choice((0, 1, 2, 3, 4, 9, 10, 49)), rng.randrange(2))
        xfs.append(xf)
        total += len(xf)
    xfs.append(b'<xf numFmtId="14" applyNumberFormat="1"/>')
    styles = [_XML + f'<styleSheet xmlns="{MAIN_NS}"><cellXfs count="{len(xfs)}">'.encode(), b"".join(xfs),
              b"</cellXfs></styleSheet>"]
    row = (b'<row r="2"><c r="A2" t="inlineStr"><is><t>R1</t></is></c><c r="H2"><v>12.5</v></c>'
           b'<c r="J2" s="%d"><v>45731</v></c></row>' % (len(xfs) - 1))
    return xlsx(out, sheet=_sheet("A1:K2", [row]), styles=styles)
