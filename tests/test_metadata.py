"""Document metadata read from the text: title, short name, 文号, issuer, dates by kind, type, level.

On small documents of our own, on the 8 real documents beside the seed, and as shares over the
3,496 real laws and regulations (issue targets: ≥ 99% titles, ≥ 95% dates).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.corpus import ingest, metadata
from assistant.corpus.ingest import load_corpus
from assistant.corpus.readers import read_source
from assistant.corpus.structure import parse_document
from assistant.errors import CorpusFileError
from assistant.models import heading
from tests.support import REALDOCS

LAW = """# 中华人民共和国测试促进法

2002年6月29日 第九届全国人民代表大会常务委员会第二十八次会议通过

2017年9月1日 第十二届全国人民代表大会常务委员会第二十九次会议修订

<!-- INFO END -->

## 第一章 总则

第一条 为了促进测试事业发展，制定本法。

## 第三章 融资促进

第十九条 融资担保费率由融资担保机构与被担保人协商确定。

第二十条 本法自2018年1月1日起施行。
"""

GONGWEN = """测政办发〔2024〕3号
测试省人民政府办公厅关于进一步支持小微企业
融资发展的若干措施
各市（州）人民政府：
一、加大信贷支持
（一）扩大贷款投放。银行业金融机构要加大对小微企业的贷款投放。
测试省人民政府办公厅
2024年3月1日
"""

LOCAL = """# 测试市电梯安全管理条例

2020年10月30日 测试市第十一届人民代表大会常务委员会第三十三次会议通过

2020年11月27日 测试省第十三届人民代表大会常务委员会第二十四次会议批准

<!-- INFO END -->

第一条 为了加强电梯安全管理，制定本条例。
"""


@pytest.fixture
def detect(tmp_path):
    """Metadata of ``text`` saved as ``name`` and read the way ingest reads a corpus file."""
    def read(text: str, name: str = "x.md") -> metadata.Detected:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        source = read_source(path)
        return metadata.detect(source.text, name, source.title)
    return read


def test_a_law_is_named_dated_and_typed_from_its_history_lines(detect):
    found = detect(LAW, "测试促进法(2017-09-01).md")
    assert found.title == "中华人民共和国测试促进法" and found.short_name == "测试促进法"
    assert found.dates == (("通过", "2002-06-29"), ("修订", "2017-09-01"), ("施行", "2018-01-01"))
    assert found.issue_date == "2017-09-01" and found.doc_type == "法律" and found.level == "国家"
    assert found.issuer == "全国人民代表大会常务委员会"
    assert "测试促进法" in found.aliases and "中华人民共和国测试促进法" in found.aliases


def test_a_gongwen_title_split_over_lines_is_joined_and_its_number_is_its_short_name(detect):
    found = detect(GONGWEN, "whatever.txt")
    assert found.title == "测试省人民政府办公厅关于进一步支持小微企业融资发展的若干措施"
    assert found.short_name == found.doc_number == "测政办发〔2024〕3号" and "3号文" in found.aliases
    assert found.dates == (("印发", "2024-03-01"),) and found.issuer == "测试省人民政府办公厅"
    assert found.doc_type == "规范性文件" and found.level == "省"


def test_a_local_regulation_and_its_approval(detect):
    found = detect(LOCAL)
    assert found.level == "市" and found.doc_type == "地方性法规"
    assert found.dates == (("通过", "2020-10-30"), ("批准", "2020-11-27")) and found.issue_date == "2020-11-27"
    assert found.issuer == "测试市人民代表大会常务委员会"  # the province only approved it


def test_the_file_name_dates_a_text_that_gives_none(detect):
    found = detect("# 测试条例\n\n<!-- INFO END -->\n\n第一条 为了测试，制定本条例。\n", "测试条例(2022-10-01).md")
    assert found.dates == (("文件名", "2022-10-01"),) and found.issue_date == "2022-10-01"
    assert detect("# 测试条例\n\n第一条 为了测试，制定本条例。\n", "测试条例.md").issue_date == ""


def test_articles_get_no_invented_heading_and_citations_use_the_short_name(tmp_path):
    (tmp_path / "测试促进法(2017-09-01).md").write_text(LAW, encoding="utf-8")
    doc = load_corpus(tmp_path).documents[0]
    clauses = {c.number: c for c in parse_document(doc)}
    article = clauses["19"]
    assert article.title == "" and article.section == "融资促进"
    assert heading(article, doc.meta()) == "测试促进法 第十九条"


@pytest.fixture(scope="module")
def policy_docs():
    folder = REALDOCS / "policy"
    if not folder.is_dir():
        pytest.skip(f"real documents not found at {folder}")
    return {d.doc_id: d for d in load_corpus(folder).documents}


def test_the_real_documents_beside_the_seed(policy_docs):
    names = {d.short_name for d in policy_docs.values()}
    assert {"国办发〔2019〕6号", "中小企业促进法", "融资担保公司监督管理条例", "保障中小企业款项支付条例",
            "促进个体工商户发展条例", "浙江省民营企业发展促进条例"} <= names
    law = next(d for d in policy_docs.values() if d.name == "中小企业促进法")
    assert law.title == "中华人民共和国中小企业促进法" and law.doc_type == "法律" and law.level == "国家"
    assert ("修订", "2017-09-01") in law.dates and ("施行", "2018-01-01") in law.dates
    guoban = next(d for d in policy_docs.values() if d.name == "国办发〔2019〕6号")
    assert guoban.issuer == "国务院办公厅" and guoban.issue_date == "2019-01-22" and guoban.level == "国家"
    texts = sorted((d for d in policy_docs.values() if d.short_name == "保障中小企业款项支付条例"), key=lambda d: d.issue_date)
    old, newest = texts
    assert newest.issue_date == "2025-03-17" and ("修订", "2025-03-17") in newest.dates
    # Two texts of one regulation are versions: the 2025 revision supersedes the 2020 text.
    assert old.superseded_by == newest.doc_id and newest.supersedes == (old.doc_id,)
    assert (old.name, newest.name) == ("保障中小企业款项支付条例（2020年）", "保障中小企业款项支付条例（2025年修订）")
    assert {d.level for d in policy_docs.values() if d.title.startswith(("浙江省", "河南省"))} == {"省"}
    assert all(d.title != Path(d.path).stem for d in policy_docs.values())


@pytest.mark.integration  # reads 3,496 files
def test_titles_and_dates_of_the_real_laws():
    folder = REALDOCS / "laws"
    if not folder.is_dir():
        pytest.skip(f"real documents not found at {folder}")
    files = ingest.corpus_files(folder)
    titled = dated = leveled = 0
    empty = []
    for path in files:
        try:
            source = read_source(path)
        except CorpusFileError:  # a site generator's _index.md: front matter and no text
            empty.append(path)
            continue
        titled += bool(metadata.detect(source.text, "", source.title).title)  # from the text, not the file name
        found = metadata.detect(source.text, path.name, source.title)
        dated += bool(found.issue_date)
        leveled += bool(found.level)
    assert all(p.name == "_index.md" for p in empty)
    n = len(files) - len(empty)
    print(f"{n} files: titles {titled / n:.3f}, dates {dated / n:.3f}, levels {leveled / n:.3f}")
    assert n >= 3400 and titled / n >= 0.99 and dated / n >= 0.95 and leveled / n >= 0.95
