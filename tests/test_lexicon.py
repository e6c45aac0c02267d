"""The vocabularies as one validated object: every data file loads, and a bad line names file and line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from assistant import lexicon as lex
from assistant.errors import LexiconError
from assistant.lexicon import Lexicon, policy_dictionary, stopword_list
from tests.support import ROOT

DATA = ROOT / "assistant" / "data"


def test_every_data_file_is_loaded_and_checked():
    on_disk = {p.name for p in DATA.iterdir() if p.is_file() and not p.name.startswith((".", "__"))}
    assert on_disk == set(lex.DATA_FILES), "a data file no loader checks, or a loader without its file"
    lexicon = Lexicon.load()
    # Columns as the files promise them.
    assert len(lexicon.glossary) > 200 and all(1 <= len(terms) <= 4 for _, terms in lexicon.glossary)
    assert {a.kind for a in lexicon.aspects} == set(lex.FIGURE_ASPECTS + lex.WORD_ASPECTS)
    assert all((a.evidence is None) == a.figure for a in lexicon.aspects)
    assert lexicon.aspect("text", "电话").evidence.search("咨询电话") and lexicon.aspect("amount", "电话") is None
    assert "税" in lexicon.topic_endings and "留抵" in lexicon.topics
    assert dict(lexicon.unit_aliases)["人行"] == "人行临夏州中心支行" and "临夏州" in lexicon.unit_prefixes
    assert "怎么" in lexicon.question_words
    assert lexicon.cues.document.search("这个文件的文号是多少") and lexicon.cues.who.search("这条谁负责")
    assert "{question}" in lexicon.prompt.user and 0 < lexicon.refusal.min_dense < 1
    assert all(isinstance(freq, int) for _, freq, _ in policy_dictionary() if freq is not None)
    assert "的" in stopword_list()
    # Matching's vocabularies: every choice of the form is a kind some clause can name.
    from assistant.answer.profile import ProfileOptions
    from assistant.corpus.measures import Vocabulary

    options = ProfileOptions.load()
    assert "贷款" in options.needs and "个体工商户" in options.types
    assert {"餐饮", "住宿"} <= set(Vocabulary.load().beneficiary_kinds["接触型服务业"])


def broken(tmp_path: Path, name: str, text: str) -> Path:
    """A lexicon folder whose ``name`` is the package's file with ``text`` appended."""
    folder = tmp_path / "lexicon"
    folder.mkdir(exist_ok=True)
    shutil.copy(DATA / name, folder / name)
    with open(folder / name, "a", encoding="utf-8") as handle:
        handle.write(text)
    return folder


def lines_of(name: str) -> int:
    return len((DATA / name).read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize("name, appended, says", [
    (lex.GLOSSARY, "没有制表符的一行\n", "应有 2 列"),
    (lex.GLOSSARY, "借钱\t贷款\n", "重复"),
    (lex.GLOSSARY, "很多词\ta|b|c|d|e\n", "1–4 个政策用语"),
    (lex.ASPECTS, "text\t多少(\t\\d\t标签\n", "正则表达式无效"),
    (lex.ASPECTS, "everything\t多少\t-\t标签\n", "第一列应为"),
    (lex.ASPECTS, "amount\t多少\t\\d\t标签\n", "数字类"),
    (lex.UNIT_ALIASES, "只有别名\n", "应有 2 列"),
    (lex.POLICY_DICT, "政策词 很多 n\n", "词 [词频 [词性]]"),
    (lex.STOPWORDS, "两个 词\n", "只能有一个词"),
])
def test_a_bad_line_names_its_file_and_line(tmp_path, name, appended, says):
    folder = broken(tmp_path, name, appended)
    with pytest.raises(LexiconError) as err:
        Lexicon.load(folder)
        stopword_list(folder)
    message = str(err.value)
    assert str(folder / name) in message and f"第 {lines_of(name) + 1} 行" in message and says in message, message


@pytest.mark.parametrize("name, appended, says", [
    (lex.CUES, "extra = [1, 2\n", "TOML 格式错误"),
    (lex.REFUSAL, "min_dense = 2.0\n", "TOML 格式错误"),  # a key given twice
    (lex.PROMPT, "\n", ""),
])
def test_toml_files_are_checked(tmp_path, name, appended, says):
    folder = broken(tmp_path, name, appended)
    if not says:  # a harmless blank line: still loads
        assert Lexicon.load(folder).prompt.system
        return
    with pytest.raises(LexiconError, match=re.escape(says)) as err:
        Lexicon.load(folder)
    assert str(folder / name) in str(err.value)


def test_a_bad_cue_pattern_is_named(tmp_path):
    folder = tmp_path / "lexicon"
    folder.mkdir()
    text = (DATA / lex.CUES).read_text(encoding="utf-8")
    (folder / lex.CUES).write_text(re.sub(r"(?m)^who = .*$", "who = '谁负责|(未闭合'", text), encoding="utf-8")
    with pytest.raises(LexiconError, match="正则表达式无效") as err:
        Lexicon.load(folder)
    assert str(folder / lex.CUES) in str(err.value) and "(未闭合" in str(err.value)
    (folder / lex.CUES).write_text(re.sub(r"(?m)^who = .*$", "", text), encoding="utf-8")
    with pytest.raises(LexiconError, match="缺少：who"):
        Lexicon.load(folder)


def test_prompt_and_thresholds_are_validated(tmp_path):
    folder = tmp_path / "lexicon"
    folder.mkdir()
    (folder / lex.PROMPT).write_text('system = "s"\nuser = "没有占位符"\nclause = "{n}{heading}{text}"\n',
                                     encoding="utf-8")
    with pytest.raises(LexiconError, match="缺少占位符"):
        Lexicon.load(folder)
    (folder / lex.PROMPT).unlink()
    (folder / lex.REFUSAL).write_text("min_dense = 0.2\nmin_overlap = 0.3\nmax_unknown = 99\ngive_floor = 3\n"
                                      "topic_floor = 0.3\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="0 到 1"):
        Lexicon.load(folder)
    (folder / lex.REFUSAL).write_text("min_dense = 0.2\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="缺少 min_overlap"):
        Lexicon.load(folder)


def test_a_file_in_the_folder_replaces_only_itself(tmp_path):
    folder = tmp_path / "lexicon"
    folder.mkdir()
    (folder / lex.TOPICS).write_text("# only one topic\n火星移民\n", encoding="utf-8")
    loaded = Lexicon.load(folder)
    assert loaded.topics == ("火星移民",)
    assert loaded.glossary == Lexicon.load().glossary  # the other files come from the package


def test_matching_vocabularies_go_through_the_same_loader(tmp_path):
    """measures.toml and profile.toml: a missing list or a wrong type names the file and the line that holds
    it (it was a bare KeyError('support') traceback), a bad pattern is named, and a folder's file replaces
    the package's."""
    from assistant.answer.profile import ProfileOptions
    from assistant.corpus.measures import Vocabulary

    folder = tmp_path / "lexicon"
    folder.mkdir()
    text = (DATA / lex.MEASURES).read_text(encoding="utf-8")
    line = next(n for n, ln in enumerate(text.splitlines(), start=1) if ln.startswith("channel ="))
    (folder / lex.MEASURES).write_text(text.replace("\nchannel = [", "\nchannel = '平台'\nformer_channel = ["),
                                       encoding="utf-8")
    with pytest.raises(LexiconError) as err:
        Vocabulary.load(folder)
    assert str(folder / lex.MEASURES) in str(err.value) and f"第 {line} 行" in str(err.value), str(err.value)
    assert "channel 应为非空字符串的列表" in str(err.value)
    (folder / lex.MEASURES).write_text(text.replace("[support]", "[support_kinds]"), encoding="utf-8")
    with pytest.raises(LexiconError, match=r"缺少 \[support\] 表"):
        Vocabulary.load(folder)
    (folder / lex.MEASURES).write_text(re.sub(r"(?m)^patterns = \[", "patterns = ['(未闭合', ", text), encoding="utf-8")
    with pytest.raises(LexiconError, match="正则表达式无效"):
        Vocabulary.load(folder)
    phrases = next(n for n, ln in enumerate(text.splitlines(), start=1) if ln.startswith("[support_phrases]"))
    (folder / lex.MEASURES).write_text(text.replace('"培训服务" = ["(?<!无法)', '"培训服务" = ["(未闭合", "(?<!无法)'),
                                       encoding="utf-8")
    with pytest.raises(LexiconError, match="正则表达式无效") as err:
        Vocabulary.load(folder)
    assert f"第 {phrases} 行" in str(err.value), str(err.value)
    (folder / lex.MEASURES).unlink()

    profile = (DATA / lex.PROFILE).read_text(encoding="utf-8")
    (folder / lex.PROFILE).write_text(re.sub(r'(?m)^needs = \[', 'needs = ["火星贷", ', profile), encoding="utf-8")
    with pytest.raises(LexiconError, match="火星贷 不是 measures.toml 中的支持方式") as err:
        ProfileOptions.load(folder)
    assert str(folder / lex.PROFILE) in str(err.value) and "第 " in str(err.value)
    (folder / lex.PROFILE).write_text(re.sub(r'(?m)^needs = \[', 'needs = ["外汇避险", ', profile).replace(
        '"外汇避险" = [', '"外汇避险" = ["换汇", '), encoding="utf-8")
    assert ProfileOptions.load(folder).from_words(needs=["换汇"])[0].needs == ("外汇避险",)  # the folder's words
    with pytest.raises(Exception, match="换汇"):
        ProfileOptions.load().from_words(needs=["换汇"])  # not the package's: nothing process-wide was changed


def test_every_data_file_starts_with_a_header():
    for name in lex.DATA_FILES:
        first = (DATA / name).read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("#") and len(first) > 20, f"{name} needs a header saying what it holds and who reads it"


def test_the_glossary_keeps_its_own_rules():
    """glossary.tsv's header: each policy term occurs verbatim in the documents it was written for (the seed
    and the real policy documents), an everyday word is no term of its own line and no single character."""
    real = ROOT.parent / "shared" / "realdocs" / "policy"
    if not real.is_dir():
        pytest.skip(f"{real} is absent: the glossary's terms are checked against its documents")
    text = (ROOT / "corpus" / "linxia-2022-84.txt").read_text(encoding="utf-8") + "".join(
        p.read_text(encoding="utf-8") for p in sorted(real.iterdir()) if p.suffix in (".txt", ".md"))
    glossary = Lexicon.load().glossary
    assert [(word, t) for word, terms in glossary for t in terms if t not in text] == []
    assert [word for word, terms in glossary if word in terms or len(word) < 2] == []
