"""Versions of one document, repealed documents, clashing names, and corpora read from several folders."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.corpus import versions
from assistant.corpus.ingest import load_corpus, source_key
from assistant.corpus.structure import parse_document
from assistant.errors import CorpusFileError
from assistant.models import heading

OLD = """# 测试款项支付条例

<!-- INFO END -->

第一条 为了促进及时支付中小企业款项，制定本条例。

第八条 机关、事业单位从中小企业采购货物、工程、服务，应当自货物、工程、服务交付之日起30日内支付款项。

第九条 本条例自2020年9月1日起施行。
"""

NEW = """# 测试款项支付条例

2020年7月5日 测试令第1号公布

2025年3月17日 测试令第2号修订

<!-- INFO END -->

第一条 为了促进及时支付中小企业款项，制定本条例。

第八条 机关、事业单位从中小企业采购货物、工程、服务，应当自货物、工程、服务交付之日起30日内支付款项。

第九条 大型企业从中小企业采购货物、工程、服务，应当自交付之日起60日内支付款项。

第十条 本条例自2025年6月1日起施行。
"""


@pytest.fixture
def two_versions(tmp_path):
    (tmp_path / "测试款项支付条例(2020-07-05).md").write_text(OLD, encoding="utf-8")
    (tmp_path / "测试款项支付条例(2025-03-17).md").write_text(NEW, encoding="utf-8")
    corpus = load_corpus(tmp_path)
    return corpus, {d.doc_id: d for d in corpus.documents}


def test_the_newer_text_supersedes_the_older(two_versions):
    corpus, docs = two_versions
    old, new = docs["测试款项支付条例-2020-07-05"], docs["测试款项支付条例-2025-03-17"]
    assert old.superseded_by == new.doc_id and new.supersedes == (old.doc_id,) and not new.superseded_by
    assert (old.edition, new.edition) == ("2020年", "2025年修订")
    assert versions.status_mark(old, docs) == "已被2025年修订版取代" and versions.status_mark(new, docs) == ""
    clause = {c.number: c for c in parse_document(old)}["8"]
    assert heading(clause, old, versions.status_mark(old, docs)) == "测试款项支付条例（2020年，已被2025年修订版取代） 第八条"
    assert corpus.warnings == []  # versions are not duplicates


def test_which_text_is_in_force_depends_on_the_day(two_versions):
    _, docs = two_versions
    old, new = docs["测试款项支付条例-2020-07-05"], docs["测试款项支付条例-2025-03-17"]
    before, after = dt.date(2025, 5, 31), dt.date(2025, 6, 1)
    # Until the revision takes effect, the old text still applies and the new one is 尚未施行.
    assert versions.in_force(old, docs, before) and versions.takes_effect_after(new, before)
    assert versions.relation_text(new, docs, before).startswith("尚未施行（2025-06-01 起施行）")
    assert not versions.in_force(old, docs, after) and versions.in_force(new, docs, after)
    assert versions.relation_text(old, docs, after) == "已被2025年修订版取代"
    assert versions.relation_text(new, docs, after) == "现行；取代 测试款项支付条例（2020年）"


def test_a_repealed_document_leaves_answers_but_is_marked(tmp_path):
    (tmp_path / "a.md").write_text(OLD, encoding="utf-8")
    (tmp_path / "manifest.toml").write_text('[[document]]\ndoc_id = "a"\nfile = "a.md"\nstatus = "废止"\n',
                                            encoding="utf-8")
    docs = {d.doc_id: d for d in load_corpus(tmp_path).documents}
    assert docs["a"].status == "废止" and not versions.in_force(docs["a"], docs, dt.date(2026, 1, 1))
    assert versions.status_mark(docs["a"], docs) == "已废止"


def test_a_wrong_status_names_the_file(tmp_path):
    (tmp_path / "a.md").write_text(OLD, encoding="utf-8")
    (tmp_path / "manifest.toml").write_text('[[document]]\ndoc_id = "a"\nfile = "a.md"\nstatus = "作废了"\n',
                                            encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert corpus.documents == [] and "a.md" in str(corpus.problems[0]) and "作废了" in str(corpus.problems[0])


GONGWEN = "{number}\n\n关于支持小微企业融资的通知\n\n各县市人民政府：\n\n一、加大信贷投放。\n\n测试市人民政府办公室\n2022年3月1日\n"


def test_files_with_the_same_number_or_title_and_date_or_no_title_are_named(tmp_path):
    (tmp_path / "one.txt").write_text(GONGWEN.format(number="测政办发〔2022〕5号"), encoding="utf-8")
    (tmp_path / "two.txt").write_text(GONGWEN.format(number="测政办发〔2022〕5号"), encoding="utf-8")
    (tmp_path / "three.txt").write_text(GONGWEN.format(number=""), encoding="utf-8")
    (tmp_path / "notitle.txt").write_text("一、加大信贷投放力度，支持小微企业。\n二、降低融资成本。\n", encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert len(corpus.documents) == 4  # nothing is dropped
    text = "\n".join(corpus.warnings)
    assert "one.txt、two.txt：文号相同（测政办发〔2022〕5号）" in text
    assert "标题和日期相同" in text and "three.txt" in text
    assert "notitle.txt：没有找到文件标题" in text


def test_a_corpus_read_from_several_folders(tmp_path):
    main, extra = tmp_path / "corpus", tmp_path / "library"
    main.mkdir(), extra.mkdir()
    (main / "local.md").write_text(NEW.replace("测试款项支付条例", "本地支付办法"), encoding="utf-8")
    (extra / "national.md").write_text(OLD, encoding="utf-8")
    (extra / "manifest.toml").write_text('[[document]]\ndoc_id = "nat"\nfile = "national.md"\nlevel = "国家"\n',
                                         encoding="utf-8")
    corpus = load_corpus((main, extra))
    docs = {d.doc_id: d for d in corpus.documents}
    assert set(docs) == {"local", "nat"} and docs["nat"].level == "国家"  # each folder's manifest applies
    assert docs["local"].path == "local.md" and docs["nat"].path == f"{extra.as_posix()}/national.md"
    assert source_key(extra / "national.md", (main, extra)) == docs["nat"].path
    with pytest.raises(CorpusFileError, match="语料目录不存在"):
        load_corpus((main, tmp_path / "missing"))


@pytest.mark.integration  # builds an index with the real encoder
def test_the_build_summary_and_docs_name_clashes_and_versions(tmp_path, capsys):
    from assistant.cli import main

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "测试款项支付条例(2020-07-05).md").write_text(OLD, encoding="utf-8")
    (corpus / "测试款项支付条例(2025-03-17).md").write_text(NEW, encoding="utf-8")
    (corpus / "one.txt").write_text(GONGWEN.format(number="测政办发〔2022〕5号"), encoding="utf-8")
    (corpus / "two.txt").write_text(GONGWEN.format(number="测政办发〔2022〕5号"), encoding="utf-8")
    args = ["--corpus", str(corpus), "--index-dir", str(tmp_path / "index")]
    assert main([*args, "index", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "请注意 one.txt、two.txt：文号相同（测政办发〔2022〕5号）" in err
    assert main([*args, "docs"]) == 0
    out = capsys.readouterr().out
    assert "已被2025年修订版取代" in out and "现行；取代 测试款项支付条例（2020年）" in out
    assert main([*args, "show", "测试款项支付条例-2020-07-05#8"]) == 0
    assert "测试款项支付条例（2020年，已被2025年修订版取代） 第八条" in capsys.readouterr().out


def _assistant_over(folder, today):
    from assistant.answer.assistant import Assistant
    from assistant.lexicon import Lexicon
    from assistant.search.index import Index
    from tests.support import HashingEncoder

    encoder = HashingEncoder()
    index = Index.in_memory(load_corpus(folder).documents, encoder)
    return Assistant(index.settings, index, encoder, Lexicon.load(), today=today)


def test_answers_leave_out_repealed_and_superseded_texts(tmp_path):
    (tmp_path / "测试款项支付条例(2020-07-05).md").write_text(OLD, encoding="utf-8")
    (tmp_path / "测试款项支付条例(2025-03-17).md").write_text(NEW, encoding="utf-8")
    repealed = OLD.replace("测试款项支付条例", "测试采购付款办法").replace("30日", "45日")
    (tmp_path / "gone.md").write_text(repealed, encoding="utf-8")
    (tmp_path / "manifest.toml").write_text('[[document]]\ndoc_id = "gone"\nfile = "gone.md"\nstatus = "失效"\n',
                                            encoding="utf-8")
    assistant = _assistant_over(tmp_path, dt.date(2026, 1, 1))
    answer = assistant.ask("机关、事业单位采购货物应当多少日内支付款项？")
    cited = {assistant.index.by_id[c.clause_id].doc_id for c in answer.citations}
    assert cited == {"测试款项支付条例-2025-03-17"}, answer.text
    assert assistant.index.heading(assistant.index.by_id["gone#8"]) == "测试采购付款办法（已失效） 第八条"
    # Asking about the old text quotes it, marked, with a note naming the text in force.
    old = assistant.ask("修订前的测试款项支付条例第八条")
    assert old.citations[0].clause_id == "测试款项支付条例-2020-07-05#8"
    assert "已被2025年修订版取代" in old.citations[0].heading and "现行规定见测试款项支付条例（2025年修订）" in old.text
