"""The ranking bonus by document kind (POLICY_KIND_PRIOR): a laws deployment's calibrated preference for
the kind of text laypeople's questions are answered by (evals/kind_prior.py measures it on STARD)."""

from __future__ import annotations

import pytest

from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.search.index import Index
from assistant.search.retrieve import HybridSearcher
from tests.support import HashingEncoder, memory_document

ARTICLE = "第一条 用人单位自用工之日起即与劳动者建立劳动关系。用人单位应当建立职工名册备查。\n"


@pytest.fixture(scope="module")
def index():
    docs = [memory_document(f"测试劳动法规\n{ARTICLE}", "rule", level="国家", doc_type="行政法规"),
            memory_document(f"测试劳动法\n{ARTICLE}", "law", level="国家", doc_type="法律")]
    return Index.in_memory(docs, HashingEncoder())


def ranked(index, prior):
    hits = HybridSearcher(index, HashingEncoder(), kind_prior=prior).search("劳动关系从什么时候建立", k=2)
    return [h.clause.doc_id for h in hits], hits


@pytest.mark.parametrize("prior, first", [({"法律": 0.1}, "law"), ({"行政法规": 0.1}, "rule"),
                                          ({"法律": -0.1, "行政法规": 0.05}, "rule")])
def test_the_kind_with_the_bonus_comes_first_among_equal_clauses(index, prior, first):
    order, hits = ranked(index, prior)
    assert order[0] == first, order
    # The bonus is not relevance: both clauses match the question equally, and a refusal floor sees that.
    assert hits[0].relevance == pytest.approx(hits[1].relevance)
    assert hits[0].boost != hits[1].boost


def test_the_setting_is_read_and_checked():
    assert Settings.from_env({"POLICY_KIND_PRIOR": "法律=0.055, 行政法规=-0.129"}).kind_bonuses() == {
        "法律": 0.055, "行政法规": -0.129}
    assert Settings.from_env({}).kind_bonuses() == {}
    for bad in ("法律", "法律=2", "=0.1", "法律=很多"):
        with pytest.raises(ConfigError, match="POLICY_KIND_PRIOR 应写成"):
            Settings.from_env({"POLICY_KIND_PRIOR": bad})
