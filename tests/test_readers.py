"""Readers (.txt/.md/.docx/.pdf/.html → text), metadata detection and clause parsing of what they read.

One made-up notice (tests/fixtures/readers/policy.txt) is read from every format and encoding; each
must give the same six clauses, units, figures and 文号/title/date. Damaged or unsupported files
must fail with a CorpusFileError that names the file, and nothing else.
"""

from __future__ import annotations

import importlib.util
import io
import random
import re
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader

from assistant.corpus import ingest
from assistant.corpus.ingest import detect_metadata, load_corpus
from assistant.corpus.readers import decode_bytes, join_wrapped_lines, read_file
from assistant.corpus.structure import parse_document
from assistant.errors import CorpusFileError
from assistant.models import Clause, Document

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "readers"
SOURCE = (FIXTURES / "policy.txt").read_text(encoding="utf-8")
SOURCE_LINES = SOURCE.splitlines()


def _load_make_pdf():
    spec = importlib.util.spec_from_file_location("readers_make_pdf", FIXTURES / "make_pdf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_pdf = _load_make_pdf()

# What a reader of the notice sees, written out by hand (not computed by the code under test):
# (label, section number, section heading, title, units, figures)
EXPECTED = [
    ("（一）", "一", "加大财政支持力度", "设立贷款风险补偿资金", ("州财政局", "州税务局"), ("200万元",)),
    ("（二）", "一", "加大财政支持力度", "实施创业担保贷款贴息", ("州人力资源和社会保障局", "州财政局"),
     ("50%", "24个月")),
    ("（三）", "一", "加大财政支持力度", "降低融资担保费率", ("州金融工作局",), ("500万元", "1%")),
    ("（四）", "二", "优化金融服务", "扩大信用贷款投放", ("人民银行测试州分行", "州金融工作局"), ("3亿元",)),
    ("（五）", "二", "优化金融服务", "开展银企对接活动", ("州工业和信息化局",), ()),
    ("（六）", "二", "优化金融服务", "强化政策落实督导", ("州人民政府办公室",), ()),
]
CLAUSE_LINES = [ln for ln in SOURCE_LINES if ln.startswith("（")]
EXPECTED_META = {
    "doc_number": "测试办发〔2024〕7号",
    "title": "关于支持中小微企业融资发展的通知",
    "issuer": "测试州人民政府办公室",
    "issue_date": "2024-03-01",
    "cites": ["测试政办发〔2023〕12号"],
}


def make_document(text: str, path: str = "policy.txt", doc_id: str = "policy") -> Document:
    meta = detect_metadata(text)
    return Document(doc_id=doc_id, path=path, title=meta["title"], doc_number=meta["doc_number"],
                    issuer=meta["issuer"], issue_date=meta["issue_date"], level="", source="", text=text,
                    sha256="")


def numbered(clauses: list[Clause]) -> list[Clause]:
    return [c for c in clauses if c.number != "0"]


def assert_spans(doc: Document, clauses: list[Clause]) -> None:
    previous_end = 0
    for c in clauses:
        assert doc.text[c.start:c.end] == c.text, c.clause_id
        assert c.text == c.text.strip() and c.text
        assert c.start >= previous_end, f"{c.clause_id} overlaps the clause before it"
        previous_end = c.end


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --- building the same notice in every format --------------------------------------------------


def _docx_bytes(lines: list[str]) -> bytes:
    """The notice as Word would hold it: title and sections as headings, the unit note in its own run."""
    document = docx.Document()
    for line in lines:
        if line.startswith("关于"):
            document.add_heading(line, level=1)
        elif re.match(r"^[一二三四五六七八九十]+、", line):
            document.add_heading(line, level=2)
        elif "（责任单位" in line:
            body, note = line.split("（责任单位", 1)
            paragraph = document.add_paragraph()
            paragraph.add_run(body[:3]).bold = True
            paragraph.add_run(body[3:])
            paragraph.add_run("（责任单位" + note).italic = True
        else:
            document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _write(tmp_path: Path, fmt: str) -> Path:
    if fmt == "txt-utf8":
        return FIXTURES / "policy.txt"
    if fmt == "md":
        return FIXTURES / "policy.md"
    if fmt == "html":
        return FIXTURES / "policy.html"
    if fmt == "pdf":
        return FIXTURES / "policy.pdf"
    encoded = {
        "txt-utf8-bom": lambda: SOURCE.encode("utf-8-sig"),
        "txt-gbk": lambda: SOURCE.encode("gbk"),
        "txt-utf16": lambda: SOURCE.encode("utf-16"),  # BOM + little-endian
        "txt-utf16-be": lambda: b"\xfe\xff" + SOURCE.encode("utf-16-be"),
        "txt-crlf": lambda: SOURCE.replace("\n", "\r\n").encode("utf-8"),
        "docx": lambda: _docx_bytes(SOURCE_LINES),
    }[fmt]()
    path = tmp_path / f"policy-{fmt}.{'docx' if fmt == 'docx' else 'txt'}"
    path.write_bytes(encoded)
    return path


FORMATS = ["txt-utf8", "txt-utf8-bom", "txt-gbk", "txt-utf16", "txt-utf16-be", "txt-crlf", "md", "docx",
           "pdf", "html"]


@pytest.fixture(params=FORMATS)
def policy_path(request, tmp_path) -> Path:
    return _write(tmp_path, request.param)


def test_fixture_encodings_are_what_they_claim():
    assert SOURCE.encode("gbk") != SOURCE.encode("utf-8")
    with pytest.raises(UnicodeDecodeError):
        SOURCE.encode("gbk").decode("utf-8")
    assert (FIXTURES / "policy.pdf").read_bytes().startswith(b"%PDF-")


def test_read_file_gives_every_clause_text(policy_path):
    text = read_file(policy_path)
    assert "\ufeff" not in text
    for line in CLAUSE_LINES:
        assert line in text, f"{policy_path.name}: missing {line[:12]}"
    # Line breaks survive so that every clause starts a line of its own.
    starts = [ln.strip() for ln in text.splitlines()]
    assert [ln for ln in starts if ln.startswith("（")] == CLAUSE_LINES


def test_metadata_is_detected_in_every_format(policy_path):
    meta = detect_metadata(read_file(policy_path))
    assert {k: meta[k] for k in EXPECTED_META} == EXPECTED_META


def test_every_format_parses_into_the_same_clauses(policy_path):
    doc = make_document(read_file(policy_path), path=str(policy_path))
    clauses = parse_document(doc)
    assert clauses[0].number == "0" and clauses[0].label == ""
    assert "测试办发〔2024〕7号" in clauses[0].text and "现就有关事项通知如下" in clauses[0].text
    got = [(c.label, c.section_number, c.section, c.title, c.units, c.figures) for c in numbered(clauses)]
    assert got == EXPECTED
    assert [c.number for c in numbered(clauses)] == ["1", "2", "3", "4", "5", "6"]
    assert [c.clause_id for c in numbered(clauses)][:2] == ["policy#1", "policy#2"]
    for c, line in zip(numbered(clauses), CLAUSE_LINES):
        assert c.text.startswith(line)
    # Clauses (一)–(五) end where the next clause starts: nothing of the neighbour leaks in.
    assert [c.text for c in numbered(clauses)[:5]] == CLAUSE_LINES[:5]
    assert [d.date for d in numbered(clauses)[4].deadlines] == ["2024-06-30"]
    assert_spans(doc, clauses)


def test_cited_doc_number_is_not_taken_for_the_documents_own():
    # Without its own 文号 line, the 文号 cited in the preamble must not become the document's.
    text = SOURCE.replace("测试办发〔2024〕7号\n", "")
    meta = detect_metadata(text)
    assert meta["doc_number"] == ""
    assert meta["cites"] == ["测试政办发〔2023〕12号"]
    assert (meta["title"], meta["issue_date"]) == (EXPECTED_META["title"], EXPECTED_META["issue_date"])


def test_ascii_brackets_parse_like_full_width(tmp_path):
    text = re.sub(r"（([一二三四五六])）", r"(\1)", SOURCE)
    assert "(一)设立贷款风险补偿资金" in text
    path = tmp_path / "ascii.txt"
    path.write_text(text, encoding="utf-8")
    doc = make_document(read_file(path))
    clauses = numbered(parse_document(doc))
    assert [c.label for c in clauses] == ["(一)", "(二)", "(三)", "(四)", "(五)", "(六)"]
    assert [(c.section, c.title, c.units, c.figures) for c in clauses] == [e[2:] for e in EXPECTED]
    assert_spans(doc, parse_document(doc))


# --- format specifics ---------------------------------------------------------------------------


def test_markdown_heading_and_bold_markers_are_removed():
    text = read_file(FIXTURES / "policy.md")
    assert "#" not in text and "**" not in text
    assert "\n一、加大财政支持力度\n" in text
    assert "\n（一）设立贷款风险补偿资金。州级财政" in text


def test_html_drops_script_and_style_and_keeps_paragraph_lines():
    text = read_file(FIXTURES / "policy.html")
    assert "假条款" not in text and "州假局" not in text and "text-indent" not in text
    clauses = numbered(parse_document(make_document(text, path="policy.html")))
    assert len(clauses) == 6
    assert "州假局" not in {u for c in clauses for u in c.units}


def test_html_page_title_with_site_name_does_not_spoil_the_title(tmp_path):
    # Saved government pages are titled "标题_网站名"; the real title line follows the red header.
    text = read_file(FIXTURES / "policy.html")
    assert text.splitlines()[0] == "关于支持中小微企业融资发展的通知_测试州人民政府门户网站"
    assert detect_metadata(text)["title"] == "关于支持中小微企业融资发展的通知"


def test_gbk_and_utf8_decode_to_the_same_text():
    assert decode_bytes(SOURCE.encode("gbk"), "x.txt") == SOURCE
    assert decode_bytes(SOURCE.encode("gb18030"), "x.txt") == SOURCE
    assert decode_bytes(SOURCE.encode("utf-8-sig"), "x.txt") == SOURCE
    assert decode_bytes(SOURCE.encode("utf-16"), "x.txt") == SOURCE


def test_docx_table_stays_inside_its_clause(tmp_path):
    document = docx.Document()
    document.add_paragraph("一、补助标准")
    document.add_paragraph("（一）设备补助。按下表标准给予补助：")
    table = document.add_table(rows=2, cols=2)
    for (r, col), value in {(0, 0): "企业类型", (0, 1): "补助金额", (1, 0): "小微企业", (1, 1): "10万元"}.items():
        table.cell(r, col).text = value
    document.add_paragraph("（二）申报程序。企业向县财政局申报。（责任单位：县财政局）")
    path = tmp_path / "table.docx"
    document.save(str(path))
    text = read_file(path)
    assert text.splitlines()[2:4] == ["企业类型\t补助金额", "小微企业\t10万元"]
    clauses = numbered(parse_document(make_document(text, path=str(path))))
    assert [c.label for c in clauses] == ["（一）", "（二）"]
    assert "小微企业\t10万元" in clauses[0].text and clauses[0].figures == ("10万元",)
    assert "10万元" not in clauses[1].text and clauses[1].units == ("县财政局",)


# --- PDF ----------------------------------------------------------------------------------------


def test_committed_pdfs_are_reproducible_from_the_generator():
    for name, wrapped in make_pdf.TARGETS.items():
        assert make_pdf.build_policy_pdf(wrapped=wrapped) == (FIXTURES / name).read_bytes(), (
            f"{name} is stale: run python tests/fixtures/readers/make_pdf.py")


def test_pdf_fixture_is_well_formed_and_has_chinese_text():
    reader = PdfReader(str(FIXTURES / "policy.pdf"), strict=True)
    assert len(reader.pages) == 2
    first = reader.pages[0].extract_text()
    assert "关于支持中小微企业融资发展的通知" in first
    assert "\n（一）设立贷款风险补偿资金" in first
    assert first.rstrip().endswith("- 1 -")  # the page number is in the PDF…


def test_pdf_reader_drops_page_numbers():
    text = read_file(FIXTURES / "policy.pdf")
    assert "- 1 -" not in text and "- 2 -" not in text  # …and not in what the parser sees
    assert text == SOURCE.rstrip("\n")


def test_wrapped_pdf_keeps_all_text_and_clause_boundaries():
    printed = "".join(page.extract_text() for page in PdfReader(str(FIXTURES / "policy_wrapped.pdf")).pages)
    assert len(printed.splitlines()) > len(SOURCE_LINES) + 2  # the fixture's lines really are wrapped…
    text = read_file(FIXTURES / "policy_wrapped.pdf")
    assert "- 1 -" not in text
    assert squash(text) == squash(SOURCE)
    assert text == SOURCE.rstrip("\n")  # …and the reader joins them back, one paragraph per line
    doc = make_document(text, path="policy_wrapped.pdf")
    meta = detect_metadata(text)
    assert {k: meta[k] for k in EXPECTED_META} == EXPECTED_META
    clauses = parse_document(doc)
    got = [(c.label, c.section_number, c.section, c.title) for c in numbered(clauses)]
    assert got == [e[:4] for e in EXPECTED]
    # Clause (四) follows the page break; (三) must not swallow the page number.
    assert [squash(c.text) for c in numbered(clauses)[:5]] == [squash(ln) for ln in CLAUSE_LINES[:5]]
    assert_spans(doc, clauses)


def test_wrapped_pdf_keeps_units_and_figures():
    # Printed wraps split "50\n%", "（责\n任单位" and "2024年6月\n30日前"; the reader must join them.
    clauses = numbered(parse_document(make_document(read_file(FIXTURES / "policy_wrapped.pdf"))))
    assert [(c.units, c.figures) for c in clauses] == [e[4:] for e in EXPECTED]
    assert [d.date for d in clauses[4].deadlines] == ["2024-06-30"]


def test_join_wrapped_lines_joins_wraps_and_keeps_paragraph_ends():
    # Full lines are about 36 columns wide (a CJK character is 2, a digit 1).
    lines = [
        "关于做好融资工作的通知",  # short: a heading
        "一、总体要求",
        "（一）对符合条件的小微企业给予贷款50 ",  # wrap inside "50%" (pypdf's trailing space)
        "%贴息，期限不超过24个月。（责任单",  # wrap inside the unit note
        "位：州财政局）",  # closing bracket: paragraph end
        "（二）各县市政府和有关部门要在2024年6月",  # wrap inside the date
        "30日前建成线上融资平台并健全工作机制",  # full width, paragraph end without punctuation…
        "（三）加强督导。（责任单位：州政府）",  # …because a marker follows
        "附件：测试州中小微企业融资对接平台建设方案",  # full width, then the issuer and date lines
        "测试州人民政府办公室",
        "2024年3月1日",
    ]
    assert join_wrapped_lines(lines) == [
        "关于做好融资工作的通知",
        "一、总体要求",
        "（一）对符合条件的小微企业给予贷款50%贴息，期限不超过24个月。（责任单位：州财政局）",
        "（二）各县市政府和有关部门要在2024年6月30日前建成线上融资平台并健全工作机制",
        "（三）加强督导。（责任单位：州政府）",
        "附件：测试州中小微企业融资对接平台建设方案",
        "测试州人民政府办公室",
        "2024年3月1日",
    ]


FULL_LINE = "各县市要按照本通知要求认真组织实施并健全"  # 40 columns, no final punctuation


@pytest.mark.parametrize("next_line, joined", [
    ("第三条 申请条件", False),
    ("第二章 支持对象", False),
    ("(二)降低担保费率。", False),
    ("（二）降低担保费率。", False),
    ("二、优化金融服务", False),
    ("2. 贴息标准", False),
    ("3、申报程序", False),
    ("二〇二四年三月一日", False),
    ("3.5%以上部分不予贴息。", True),  # a decimal, not "3." numbering
    ("工作机制。", True),
    ("", False),  # a blank line ends the paragraph
])
def test_join_wrapped_lines_breaks_before_markers(next_line, joined):
    lines = [FULL_LINE, FULL_LINE, next_line]
    expected = [FULL_LINE * 2 + next_line] if joined else [FULL_LINE * 2, next_line]
    assert join_wrapped_lines(lines) == expected


def test_join_wrapped_lines_edge_cases():
    assert join_wrapped_lines([]) == []
    assert join_wrapped_lines(["", "  "]) == ["", "  "]
    # Wrapped Latin words get their space back; nothing else does.
    assert join_wrapped_lines(["applies to all small", "firms in the city."]) == [
        "applies to all small firms in the city."]
    # A full-width line ending with 。 ends its paragraph even when plain text follows.
    assert join_wrapped_lines([FULL_LINE + "。", FULL_LINE + "。", "其他事项另行通知"]) == [
        FULL_LINE + "。", FULL_LINE + "。", "其他事项另行通知"]


# --- 第X条 and 1. numbering ----------------------------------------------------------------------


def test_article_numbering_keeps_sub_items_inside_articles():
    doc = make_document(read_file(FIXTURES / "articles.txt"), path="articles.txt", doc_id="articles")
    clauses = parse_document(doc)
    assert clauses[0].number == "0" and clauses[0].text == "测试州中小企业融资担保资金管理办法"
    articles = numbered(clauses)
    assert [c.label for c in articles] == ["第一条", "第二条", "第三条", "第四条", "第五条"]
    assert [c.number for c in articles] == ["1", "2", "3", "4", "5"]
    assert [(c.section_number, c.section) for c in articles] == [("第一章", "总则")] * 2 + [("第二章", "支持对象和标准")] * 3
    third, fourth = articles[2], articles[3]
    # Full-width （一） sub-items in 第三条, ASCII (一) in 第四条: none becomes a clause of its own.
    assert third.text.count("\n（") == 3 and "（三）对中小企业担保业务占比不低于80%。" in third.text
    assert third.title == ""  # an article without a heading of its own gets none invented
    assert third.figures == ("5000万元", "80%")
    assert "(二) 对首次获得担保的小微企业" in fourth.text
    assert fourth.units == ("州财政局", "州工业和信息化局")
    assert fourth.figures == ("500万元", "1%", "0.5个百分点")
    assert [d.date for d in articles[4].deadlines] == ["2026-12-31"]
    assert not any(c.label.startswith(("(", "（")) for c in clauses)
    assert_spans(doc, clauses)


def test_arabic_numbering_restarting_per_section():
    doc = make_document(read_file(FIXTURES / "arabic.txt"), path="arabic.txt", doc_id="arabic")
    clauses = parse_document(doc)
    items = numbered(clauses)
    assert [(c.number, c.label) for c in items] == [
        ("1.1", "1."), ("1.2", "2."), ("2.1", "1、"), ("2.2", "2、")]
    assert [c.clause_id for c in items] == ["arabic#1.1", "arabic#1.2", "arabic#2.1", "arabic#2.2"]
    assert [c.section for c in items] == ["贴息对象", "贴息对象", "贴息标准", "贴息标准"]
    # "(1)"/"(2)" sub-items and the "3.5%…" continuation line are not clause markers.
    assert items[1].text.endswith("(1) 依法登记满一年；\n(2) 近三年无不良信用记录。")
    assert items[2].text.endswith("\n3.5%以上的利率部分不予贴息。")
    assert items[2].figures == ("50%", "3.5%")
    assert items[3].units == ("县财政局", "县市场监督管理局")
    assert items[3].figures == ("10万元", "12个月")
    assert_spans(doc, clauses)


def test_text_without_numbering_falls_back_to_paragraphs():
    # No numbering at all: every paragraph is still a citable unit (was: rejected as unstructured).
    text = "这是一段没有任何条款编号的说明文字。\n第二段也没有。"
    doc = make_document(text, path="plain.txt")
    clauses = parse_document(doc)
    assert [(c.clause_id, c.label, c.text) for c in clauses] == [
        ("policy#p1", "第1段", "这是一段没有任何条款编号的说明文字。"), ("policy#p2", "第2段", "第二段也没有。")]
    assert_spans(doc, clauses)


def test_paragraph_fallback_keeps_title_as_preamble_and_headings_with_their_paragraph():
    text = "关于小店融资的说明\n2024年3月1日\n\n小店可以申请信用贷款。\n办理流程\n向银行提出申请，5个工作日内答复。\n"
    doc = make_document(text, path="plain.txt")
    clauses = parse_document(doc)
    assert [c.number for c in clauses] == ["0", "p1", "p2"]
    assert clauses[0].text == "关于小店融资的说明\n2024年3月1日"
    assert clauses[2].text == "办理流程\n向银行提出申请，5个工作日内答复。" and clauses[2].title == "办理流程"
    assert_spans(doc, clauses)


def test_text_of_only_whitespace_lines_is_rejected_naming_the_file():
    doc = make_document("\u3000\n \n", path="plain.txt")
    with pytest.raises(CorpusFileError, match="plain.txt"):
        parse_document(doc)


# --- bad input ----------------------------------------------------------------------------------


def _valid_docx() -> bytes:
    return _docx_bytes(SOURCE_LINES)


def _random_bytes(seed: int, n: int, nul_share: float) -> bytes:
    rng = random.Random(seed)
    return bytes(0 if rng.random() < nul_share else rng.randrange(1, 256) for _ in range(n))


BAD_FILES = {
    "empty.txt": lambda: b"",
    "blank.txt": lambda: b" \t\r\n  \n",
    "blank-ideographic.txt": lambda: "\u3000\u3000\n\u3000".encode("utf-8"),
    "blank-utf16.txt": lambda: " \n \n".encode("utf-16"),
    "empty.md": lambda: b"",
    "only-markup.md": lambda: b"## \n\n**  **\n",
    "binary.txt": lambda: _random_bytes(1, 4096, 0.02),
    "binary-many-nuls.txt": lambda: _random_bytes(2, 4096, 0.5),
    "binary.html": lambda: _random_bytes(3, 4096, 0.02),
    "undecodable.txt": lambda: "政策文件".encode("gbk") + b"\x80\xff\x80\xff",
    "bad-utf8-after-bom.txt": lambda: b"\xef\xbb\xbf" + "政策".encode("utf-8") + b"\xff\xfe\xfd",
    "bad-utf16.txt": lambda: b"\xff\xfe" + "政策".encode("utf-16-le") + b"\x00\xd8",  # lone surrogate
    "truncated.docx": lambda: (lambda b: b[: len(b) // 2])(_valid_docx()),
    "garbage.docx": lambda: b"this is not a zip archive",
    "empty.docx": lambda: b"",
    "no-text.docx": lambda: (lambda d: (d.save(buf := io.BytesIO()), buf.getvalue())[1])(docx.Document()),
    "truncated.pdf": lambda: (lambda b: b[: len(b) // 2])((FIXTURES / "policy.pdf").read_bytes()),
    "garbage.pdf": lambda: b"%PDF-1.4\n\xde\xad\xbe\xef garbage\n%%EOF\n",
    "empty.pdf": lambda: b"",
    "no-text.pdf": lambda: make_pdf.build_pdf([[]], page_numbers=False),
    "only-page-numbers.pdf": lambda: make_pdf.build_pdf([[], []]),
    "sheet.xlsx": lambda: b"PK\x03\x04 not really a workbook",
    "no-suffix": lambda: SOURCE.encode("utf-8"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_file_raises_corpus_file_error_naming_it(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name]())
    with pytest.raises(CorpusFileError) as info:
        read_file(path)
    assert name in str(info.value)
    assert info.value.path == str(path)


def test_no_text_pdf_really_has_no_text(tmp_path):
    # Guard for the case above: the file is a readable PDF, it just has nothing to extract.
    reader = PdfReader(io.BytesIO(make_pdf.build_pdf([[]], page_numbers=False)), strict=True)
    assert len(reader.pages) == 1 and reader.pages[0].extract_text().strip() == ""


@pytest.mark.parametrize("suffix", [".docx", ".pdf"])
def test_truncated_at_any_point_raises_corpus_file_error(tmp_path, suffix):
    data = _valid_docx() if suffix == ".docx" else (FIXTURES / "policy.pdf").read_bytes()
    path = tmp_path / f"cut{suffix}"
    for cut in range(0, len(data), max(1, len(data) // 25)):
        path.write_bytes(data[:cut])
        with pytest.raises(CorpusFileError, match=f"cut\\{suffix}"):
            read_file(path)


@pytest.mark.parametrize("name", ["missing.txt", "missing.docx", "missing.pdf", "missing.html"])
def test_missing_file_raises_corpus_file_error(tmp_path, name):
    with pytest.raises(CorpusFileError, match=re.escape(name)):
        read_file(tmp_path / name)


# --- load_corpus without a manifest -------------------------------------------------------------


def test_load_corpus_keeps_good_file_and_reports_bad_one(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "policy.txt").write_bytes(SOURCE.encode("gbk"))
    (folder / "broken.docx").write_bytes(_valid_docx()[:1500])
    corpus = load_corpus(folder)
    assert [d.doc_id for d in corpus.documents] == ["policy"]
    assert len(corpus.problems) == 1
    assert isinstance(corpus.problems[0], CorpusFileError)
    assert "broken.docx" in str(corpus.problems[0])
    doc = corpus.documents[0]
    assert (doc.path, doc.doc_number, doc.title, doc.issuer, doc.issue_date, doc.level) == (
        "policy.txt", "测试办发〔2024〕7号", "关于支持中小微企业融资发展的通知", "测试州人民政府办公室",
        "2024-03-01", "州")
    assert doc.cites == ("测试政办发〔2023〕12号",)
    assert doc.text == SOURCE
    assert len(numbered(parse_document(doc))) == 6


def test_load_corpus_reads_every_format_without_manifest(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    for fmt in FORMATS:
        src = _write(tmp_path, fmt)
        (folder / "sub" / f"{fmt}{src.suffix}").write_bytes(src.read_bytes())
    (folder / "README.md").write_text("# 说明\n不是政策文件", encoding="utf-8")
    (folder / ".hidden.txt").write_bytes(b"")
    (folder / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    (folder / "empty.txt").write_bytes(b"")
    corpus = load_corpus(folder)
    assert sorted(d.doc_id for d in corpus.documents) == sorted(FORMATS)
    for doc in corpus.documents:
        assert (doc.doc_number, doc.title, doc.issue_date) == (
            EXPECTED_META["doc_number"], EXPECTED_META["title"], EXPECTED_META["issue_date"]), doc.path
        assert [c.units for c in numbered(parse_document(doc))] == [e[4] for e in EXPECTED], doc.path
    assert sorted(Path(p.path).name for p in corpus.problems) == ["empty.txt", "sheet.xlsx"]


def test_load_corpus_reports_unreadable_file_instead_of_raising(tmp_path, monkeypatch):
    # Root can read any file, so simulate a permission error on one file.
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "policy.txt").write_text(SOURCE, encoding="utf-8")
    (folder / "locked.txt").write_text(SOURCE, encoding="utf-8")
    real_read_bytes = Path.read_bytes

    def read_bytes(self):
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    corpus = ingest.load_corpus(folder)
    assert [d.doc_id for d in corpus.documents] == ["policy"]
    assert [Path(p.path).name for p in corpus.problems] == ["locked.txt"]
    assert "locked.txt" in str(corpus.problems[0])
