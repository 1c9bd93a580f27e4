"""The regions DescribeRegions lists, and so the only RegionIds the VPC API accepts.

Names as the console shows them (AcceptLanguage zh-CN, the default, or en-US); endpoints as
aliyunsdkcore's endpoints.json maps them for vpc. `id_prefix` is the three characters real
resource ids carry for that region (cgw-bp1... in cn-hangzhou, cgw-uf6... in cn-shanghai).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    region_id: str
    local_name_zh: str
    local_name_en: str
    endpoint: str
    id_prefix: str


def _r(region_id: str, zh: str, en: str, prefix: str, central: bool = False) -> Region:
    endpoint = "vpc.aliyuncs.com" if central else f"vpc.{region_id}.aliyuncs.com"
    return Region(region_id, zh, en, endpoint, prefix)


REGIONS: tuple[Region, ...] = (
    _r("cn-qingdao", "华北1（青岛）", "China (Qingdao)", "m5e", central=True),
    _r("cn-beijing", "华北2（北京）", "China (Beijing)", "2ze", central=True),
    _r("cn-zhangjiakou", "华北3（张家口）", "China (Zhangjiakou)", "8vb"),
    _r("cn-huhehaote", "华北5（呼和浩特）", "China (Hohhot)", "hp3"),
    _r("cn-wulanchabu", "华北6（乌兰察布）", "China (Ulanqab)", "0jl"),
    _r("cn-hangzhou", "华东1（杭州）", "China (Hangzhou)", "bp1", central=True),
    _r("cn-shanghai", "华东2（上海）", "China (Shanghai)", "uf6", central=True),
    _r("cn-shenzhen", "华南1（深圳）", "China (Shenzhen)", "wz9", central=True),
    _r("cn-heyuan", "华南2（河源）", "China (Heyuan)", "f8z"),
    _r("cn-guangzhou", "华南3（广州）", "China (Guangzhou)", "7xv"),
    _r("cn-chengdu", "西南1（成都）", "China (Chengdu)", "2vc"),
    _r("cn-hongkong", "中国香港", "China (Hong Kong)", "j6c", central=True),
    _r("ap-northeast-1", "日本（东京）", "Japan (Tokyo)", "6we"),
    _r("ap-northeast-2", "韩国（首尔）", "South Korea (Seoul)", "mj7"),
    _r("ap-southeast-1", "新加坡", "Singapore", "t4n", central=True),
    _r("ap-southeast-3", "马来西亚（吉隆坡）", "Malaysia (Kuala Lumpur)", "8ps"),
    _r("ap-southeast-5", "印度尼西亚（雅加达）", "Indonesia (Jakarta)", "k1a"),
    _r("ap-southeast-6", "菲律宾（马尼拉）", "Philippines (Manila)", "5ts"),
    _r("ap-southeast-7", "泰国（曼谷）", "Thailand (Bangkok)", "0jo"),
    _r("us-east-1", "美国（弗吉尼亚）", "US (Virginia)", "0xi", central=True),
    _r("us-west-1", "美国（硅谷）", "US (Silicon Valley)", "rj9", central=True),
    _r("eu-west-1", "英国（伦敦）", "UK (London)", "d7o"),
    _r("eu-central-1", "德国（法兰克福）", "Germany (Frankfurt)", "gw8"),
    _r("me-east-1", "阿联酋（迪拜）", "UAE (Dubai)", "eb3"),
    _r("me-central-1", "沙特（利雅得）", "Saudi Arabia (Riyadh)", "l4v"),
)

BY_ID = {region.region_id: region for region in REGIONS}


def find(region_id: str) -> Region | None:
    return BY_ID.get(region_id)
