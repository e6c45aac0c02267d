"""A document that states its own end (有效期至…, 有效期2年, 执行期限…至…) is 已失效 after it, as a repealed one:
marked in the documents list, left out of answers, and quoted with a note when asked by name."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.corpus.metadata import detect
from assistant.corpus.versions import in_force, relation_text
from tests.support import memory_assistant, memory_document


@pytest.mark.parametrize("closing, end", [
    ("本措施自2023年1月1日起施行，有效期至2024年12月31日。", "2024-12-31"),
    ("本方案执行期限为2022年1月1日至2023年12月31日。", "2023-12-31"),
    ("本通知自2021年3月1日起实施，有效期三年。", "2024-02-29"),
    ("本办法自印发之日起施行，有效期2年。\n测试州人民政府办公室\n2022年10月8日", "2024-10-07"),
    ("本条例自2022年11月1日起施行。", ""),  # no end stated
    ("第九条 经营许可证有效期为5年。\n第十条 本办法自2004年7月1日起施行。", ""),  # a licence's, not the text's
])
def test_the_end_a_text_states_of_itself_is_read(closing, end):
    assert dict(detect(f"关于测试的通知\n（一）测试措施。\n{closing}").dates).get("失效", "") == end


EXPIRED = "关于测试贴息的通知\n（一）测试贴息。对小微企业给予贴息50%。\n本通知自2023年1月1日起施行，有效期至2024年12月31日。\n"
CURRENT = "关于测试担保的通知\n（一）测试担保。对小微企业提供担保，担保费率不高于1%。\n本通知自2025年1月1日起施行。\n"


def test_an_expired_text_is_marked_and_noted_after_its_end():
    doc = memory_document(EXPIRED, "old")
    assert in_force(doc, {"old": doc}, dt.date(2024, 12, 31))
    assert not in_force(doc, {"old": doc}, dt.date(2025, 1, 1))
    assert relation_text(doc, {"old": doc}, dt.date(2026, 12, 2)) == "已失效（有效期至2024年12月31日）"
    after = memory_assistant(EXPIRED, CURRENT, today=dt.date(2026, 12, 2))
    assert "50%" not in after.ask("测试贴息是多少？").text  # as a repealed text: not the rule in force
    named = after.ask("关于测试贴息的通知规定的贴息是多少？")  # asked by name: quoted, with the note
    assert "50%" in named.text
    assert any("已失效（有效期至2024年12月31日）" in n for n in named.notes), named.notes
    before = memory_assistant(EXPIRED, CURRENT, today=dt.date(2024, 6, 1)).ask("测试贴息是多少？")
    assert "50%" in before.text and not any("已失效" in n for n in before.notes)
