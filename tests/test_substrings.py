"""The bigram index answers "which clauses contain this string" exactly as a scan would."""

from __future__ import annotations

import random

import pytest

from assistant.numerals import int_to_cn
from assistant.search.substrings import SubstringIndex
from tests.support import memory_assistant

TEXTS = ["融资担保费率不高于1%。", "小微企业首次贷款", "", "担保担保再担保", "第5条 贷款贴息50%", "ab融资ba"]


@pytest.mark.parametrize("term", ["担保", "融资担保", "担保担保再", "保担", "5", "%", "贷款", "贴息50%", "不存在的词", "a", "ba融"])
def test_rows_are_exactly_the_texts_that_contain_the_term(term):
    index = SubstringIndex.build(TEXTS)
    assert index.rows(term) == [i for i, t in enumerate(TEXTS) if term in t]
    assert index.contains(term) == any(term in t for t in TEXTS)


def test_random_texts_and_terms_agree_with_a_scan(tmp_path):
    rng = random.Random(7)
    alphabet = "融资担保贷款企业小微费率贴息甲乙"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(300)]
    built = SubstringIndex.build(texts)
    built.save(tmp_path)
    loaded = SubstringIndex.load(tmp_path, texts)
    for _ in range(300):
        start = rng.randrange(len(texts))
        source = texts[start] or "融资"
        i = rng.randrange(len(source))
        term = source[i:i + rng.randint(1, 6)] if rng.random() < 0.8 else "".join(rng.choice(alphabet) for _ in range(3))
        expected = [r for r, t in enumerate(texts) if term in t]
        assert built.rows(term) == loaded.rows(term) == expected


def test_an_old_generation_without_the_file_has_none(tmp_path):
    assert SubstringIndex.load(tmp_path, TEXTS) is None


def test_a_document_question_naming_none_answers_for_the_most_local_few():
    texts = [f"测试{n}号办法\n测府发〔2024〕{n}号\n第一条 本办法自2024年{n}月1日起施行。\n第二条 其他事项。\n" for n in range(1, 8)]
    answer = memory_assistant(*texts).ask("这份文件的文号是多少？")
    assert answer.route == "document"
    assert answer.text.startswith("问题没有指明是哪一份文件。本库有七份文件，以下是其中五份")
    assert len({c.clause_id.split("#")[0] for c in answer.citations}) == 5


def test_a_bare_clause_number_in_a_large_library_counts_every_document_and_lists_thirty():
    texts = [f"测试{int_to_cn(n)}号办法\n第一条 为规范第{n}类事项，制定本办法。\n第二条 本办法自印发之日起施行。\n"
             for n in range(1, 33)]
    answer = memory_assistant(*texts).ask("第二条讲什么？")
    assert answer.text.startswith("有三十二份文件都有第二条，请问您指的是哪一份？")
    assert "以下是其中三十份" in answer.text and len(answer.citations) == 30
    assert answer.checks == []  # every count is written in words: no number the clauses do not hold
