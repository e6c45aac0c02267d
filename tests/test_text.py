"""Normalization, tokenization and settings."""

from __future__ import annotations

import dataclasses
import re

import pytest

from assistant.config import SETTINGS_DOC, Settings
from assistant.errors import ConfigError
from assistant.lexicon import Lexicon
from assistant.search.text import normalize, stopwords, tokenize
from tests.support import ROOT


def test_traditional_and_fullwidth_are_normalized():
    assert normalize("創業擔保貸款最高３００萬元") == "创业担保贷款最高300万元"
    assert normalize("ＬＰＲ　減去１５０個基點") == "LPR 减去150个基点"
    # Punctuation the parser relies on is kept.
    assert normalize("（六）〔2022〕") == "（六）〔2022〕"


@pytest.mark.parametrize("term", ["首贷户", "见贷即担", "保险+期货", "贷款市场报价利率", "普惠型小微企业贷款",
                                  "创业担保贷款", "专精特新", "信易贷", "陇信通"])
def test_policy_terms_survive_tokenization(term):
    assert term in Lexicon.load().policy_terms
    assert term in tokenize(f"关于{term}的政策")


def test_stopwords_and_punctuation_are_dropped():
    tokens = tokenize("请问我们的贷款怎么办？！")
    assert "贷款" in tokens
    assert not {"请问", "我们", "的", "怎么办", "？", "！"} & set(tokens)
    assert "的" in stopwords()


def test_traditional_question_tokenizes_like_simplified():
    assert tokenize("貸款還不上能緩緩嗎") == tokenize("贷款还不上能缓缓吗")


def test_settings_from_env_and_overrides(tmp_path):
    s = Settings.from_env(env={"POLICY_TOP_K": "7", "POLICY_STRICT": "yes", "POLICY_INDEX_DIR": str(tmp_path)},
                          top_k=None, encoder="st:x")
    assert (s.top_k, s.strict, s.index_dir, s.encoder) == (7, True, tmp_path, "st:x")
    with pytest.raises(ConfigError, match="POLICY_DENSE_WEIGHT"):
        Settings.from_env(env={"POLICY_DENSE_WEIGHT": "2"})
    with pytest.raises(ConfigError, match="POLICY_STRICT"):
        Settings.from_env(env={"POLICY_STRICT": "perhaps"})


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert set(SETTINGS_DOC) == fields
    documented = set(re.findall(r"`POLICY_([A-Z_]+)`", readme))
    assert {name.upper() for name in fields} <= documented
