"""Dense channels: an index with the USE and e5 encoders side by side, each in its own collection, fused
with BM25. The real bundled encoders on the real seed corpus; the two-channel index is built once per run."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.search import build as build_module
from assistant.search import vectorstore
from assistant.search.build import build_index
from assistant.search.encoders import get_encoder, get_encoders
from assistant.search.index import Index
from assistant.search.layout import current_generation
from assistant.search.retrieve import HybridSearcher, make_query
from tests.support import copy_corpus, make_settings

pytestmark = pytest.mark.integration

BOTH = "use-multilingual+e5"


@pytest.fixture(scope="module")
def two_channels(tmp_path_factory) -> Settings:
    base = tmp_path_factory.mktemp("channels")
    settings = make_settings(copy_corpus(base / "corpus"), base / "index", encoder=BOTH)
    build_index(settings)
    return settings


def test_each_encoder_is_a_channel_of_its_own(two_channels):
    manifest = json.loads((current_generation(two_channels.index_dir) / "manifest.json").read_text("utf-8"))
    assert manifest["encoder"] == BOTH
    assert [(c["encoder"], c["dim"]) for c in manifest["channels"]] == [("use-multilingual", 512), ("e5", 384)]
    assert len({c["collection"] for c in manifest["channels"]}) == 2
    index = Index.open(two_channels)
    assert [len(s.exact_vectors()[0]) for s in index.channels] == [manifest["part_count"]] * 2
    # Each channel's vectors are its own encoder's: the e5 channel finds a clause by e5's query vector.
    e5 = get_encoder("e5")
    assert "linxia-2022-84#6" in index.dense(e5.embed_query("财政贴息"), 5, channel=1)


def test_e5_ranks_the_policy_term_above_an_unrelated_one():
    """The real e5 encoder through its query/passage prefixes: everyday words nearer their policy term,
    and every cosine above the floor fusion measures from (its narrow band, unlike USE's)."""
    e5 = get_encoder("e5")
    for query, related, unrelated in [("欠钱故意不还", "恶意逃废金融债务", "开展绿色金融产品创新"),
                                      ("贷款利息补贴", "财政贴息", "优化营商环境")]:
        related_sim, unrelated_sim = e5.embed_documents([related, unrelated]) @ e5.embed_query(query)
        assert related_sim > unrelated_sim > e5.similarity_floor


def test_adding_and_dropping_a_channel_reuses_the_other(tmp_path, monkeypatch):
    settings = make_settings(copy_corpus(tmp_path / "corpus"), tmp_path / "index", build_workers=1)
    first = build_index(settings)
    assert first.embedded == first.parts and first.reused == 0
    # Every build counts as long here, so the channel that embeds says so first (a test of the notice too).
    monkeypatch.setattr(build_module, "PARALLEL_MIN_PARTS", 1)
    monkeypatch.setattr(build_module, "LONG_EMBEDDING_SECONDS", 0)
    added = build_index(dataclasses.replace(settings, encoder=BOTH))
    # The USE vectors are kept; only the e5 channel is embedded, and only it is announced.
    assert added.reused == first.parts and added.embedded == first.parts
    notes = [w for w in added.warnings if "POLICY_ENCODER=" in w]
    assert len(notes) == 1 and "编码器 e5 要为 42 段文本计算向量" in notes[0]
    assert "POLICY_ENCODER=use-multilingual（" in notes[0]
    assert [c.channel.encoder for c in Index.open(dataclasses.replace(settings, encoder=BOTH)).channels] == \
        ["use-multilingual", "e5"]
    monkeypatch.undo()
    dropped = build_index(settings)
    assert dropped.reused == first.parts and dropped.embedded == 0
    index = Index.open(settings)
    assert [c.channel.encoder for c in index.channels] == ["use-multilingual"]
    # The copied store no longer holds the dropped channel's collection.
    client = vectorstore.make_client(settings, current_generation(settings.index_dir))
    assert [c.name for c in client.list_collections()] == [index.manifest.collection]


def test_an_index_of_one_setting_does_not_serve_another(two_channels):
    from assistant.errors import IndexMismatchError

    with pytest.raises(IndexMismatchError, match="use-multilingual\\+e5"):
        Index.open(dataclasses.replace(two_channels, encoder="use-multilingual", auto_build=False))


def test_channel_weights_decide_which_channel_ranks(two_channels):
    index = Index.open(two_channels)
    encoders = get_encoders(BOTH)
    query = make_query("欠银行钱故意不还会怎么样")
    # All dense weight on one channel: the ranking is that channel's alone (BM25 off).
    for channel, weights in ((0, (1.0, 0.0)), (1, (0.0, 1.0))):
        ranked = [h.clause.clause_id for h in HybridSearcher(index, encoders, 1.0, channel_weights=weights).rank(query, 5)]
        alone = list(index.dense(encoders[channel].embed_query(query.normalized), 64, channel=channel))
        searchable = [c for c in alone if not c.endswith("#0")]
        assert ranked == searchable[:5]
    # The hit's similarity is the first channel's (the one the refusal floors are calibrated on).
    hit = HybridSearcher(index, encoders, 0.5).rank(query, 1)[0]
    assert np.isclose(hit.dense, index.dense(encoders[0].embed_query(query.normalized), 64)[hit.clause.clause_id])


def test_channel_weights_are_given_by_encoder_name():
    both = Settings.from_env(env={"POLICY_ENCODER": BOTH, "POLICY_CHANNEL_WEIGHTS": "e5=3"})
    assert both.weights_of_channels() == (1.0, 3.0)  # a channel not named weighs 1
    assert Settings.from_env(env={"POLICY_ENCODER": "use-multilingual"}).weights_of_channels() == (1.0,)
    for bad in ("e5", "e5=-1", "e5=x", "e5=nan"):
        with pytest.raises(ConfigError, match="POLICY_CHANNEL_WEIGHTS 应写成"):
            Settings.from_env(env={"POLICY_ENCODER": BOTH, "POLICY_CHANNEL_WEIGHTS": bad})
    with pytest.raises(ConfigError, match="权重全为 0"):
        Settings.from_env(env={"POLICY_ENCODER": BOTH, "POLICY_CHANNEL_WEIGHTS": "use-multilingual=0,e5=0"})


def test_the_default_setting_answers_with_both_channels(two_channels):
    from assistant.answer.assistant import Assistant

    assistant = Assistant.from_settings(two_channels)
    assert [e.id for e in assistant.retriever.searcher.encoders] == ["use-multilingual", "e5"]
    answer = assistant.ask("贷款利息有补贴吗？")
    assert not answer.refused and answer.citations[0].clause_id == "linxia-2022-84#6"
