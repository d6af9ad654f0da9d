"""Simulated borrowers: names, mobile numbers, e-mail addresses and provinces.

Every value is drawn from the random stream it is given, vectorised with numpy and Polars:

- **name**: a common Chinese surname (weighted by how common it is) and one or two given-name
  characters;
- **phone**: a mainland mobile number ``+86 1xxxxxxxxxx`` on a real carrier prefix, unique
  within the portfolio;
- **email**: the name's pinyin with a few digits at a common mail domain, or a numeric QQ
  mailbox; about 3% of borrowers have none (empty field);
- **region**: a province-level division, weighted roughly by population;
- **timezone**: ``Asia/Shanghai`` (China keeps one time zone);
- **address**: a postal address in the province, for letters and field visits. It is made
  from the row's position, not drawn, so adding it left every other drawn value unchanged.
"""

from __future__ import annotations

import numpy as np
import polars as pl

SURNAMES: tuple[tuple[str, str, float], ...] = (
    ("王", "wang", 7.1), ("李", "li", 7.0), ("张", "zhang", 6.7), ("刘", "liu", 5.4),
    ("陈", "chen", 4.5), ("杨", "yang", 3.1), ("黄", "huang", 2.2), ("赵", "zhao", 2.0),
    ("吴", "wu", 1.9), ("周", "zhou", 1.9), ("徐", "xu", 1.3), ("孙", "sun", 1.2),
    ("马", "ma", 1.2), ("朱", "zhu", 1.1), ("胡", "hu", 1.1), ("郭", "guo", 1.1),
    ("何", "he", 0.9), ("林", "lin", 0.9), ("高", "gao", 0.9), ("罗", "luo", 0.9),
    ("郑", "zheng", 0.8), ("梁", "liang", 0.8), ("谢", "xie", 0.7), ("宋", "song", 0.6),
    ("唐", "tang", 0.6), ("许", "xu", 0.6), ("韩", "han", 0.6), ("邓", "deng", 0.5),
    ("冯", "feng", 0.5), ("曹", "cao", 0.5), ("彭", "peng", 0.5), ("曾", "zeng", 0.5),
    ("肖", "xiao", 0.5), ("田", "tian", 0.4), ("董", "dong", 0.4), ("潘", "pan", 0.4),
    ("袁", "yuan", 0.4), ("蔡", "cai", 0.4), ("蒋", "jiang", 0.4), ("余", "yu", 0.4),
    ("于", "yu", 0.4), ("杜", "du", 0.4), ("叶", "ye", 0.4), ("程", "cheng", 0.3),
    ("魏", "wei", 0.3), ("苏", "su", 0.3), ("吕", "lv", 0.3), ("丁", "ding", 0.3),
    ("任", "ren", 0.3), ("沈", "shen", 0.3),
)  # fmt: skip

GIVEN_CHARACTERS: tuple[tuple[str, str], ...] = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"),
    ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"),
    ("杰", "jie"), ("娟", "juan"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀", "xiu"),
    ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("桂", "gui"), ("英", "ying"), ("华", "hua"),
    ("玉", "yu"), ("兰", "lan"), ("萍", "ping"), ("红", "hong"), ("建", "jian"), ("文", "wen"),
    ("辉", "hui"), ("力", "li"), ("鹏", "peng"), ("宇", "yu"), ("浩", "hao"), ("婷", "ting"),
    ("雪", "xue"), ("琳", "lin"), ("晨", "chen"), ("欣", "xin"), ("子", "zi"), ("涵", "han"),
    ("博", "bo"), ("佳", "jia"), ("怡", "yi"), ("思", "si"), ("雨", "yu"), ("俊", "jun"),
    ("嘉", "jia"), ("梓", "zi"), ("志", "zhi"), ("海", "hai"), ("国", "guo"), ("春", "chun"),
)  # fmt: skip

#: Province-level divisions with a rough population weight (millions).
REGIONS: tuple[tuple[str, float], ...] = (
    ("广东省", 126), ("山东省", 102), ("河南省", 99), ("江苏省", 85), ("四川省", 84),
    ("河北省", 74), ("湖南省", 66), ("浙江省", 65), ("安徽省", 61), ("湖北省", 58),
    ("广西壮族自治区", 50), ("云南省", 47), ("江西省", 45), ("辽宁省", 42), ("福建省", 42),
    ("陕西省", 40), ("贵州省", 39), ("山西省", 35), ("重庆市", 32), ("黑龙江省", 31),
    ("新疆维吾尔自治区", 26), ("上海市", 25), ("甘肃省", 25), ("内蒙古自治区", 24),
    ("吉林省", 24), ("北京市", 22), ("天津市", 14), ("海南省", 10), ("宁夏回族自治区", 7),
    ("青海省", 6), ("西藏自治区", 4),
)  # fmt: skip

#: Mobile prefixes of the three carriers (the first three digits after +86).
MOBILE_PREFIXES: tuple[int, ...] = (
    *range(130, 140),
    150,
    151,
    152,
    153,
    155,
    156,
    157,
    158,
    159,
    166,
    175,
    176,
    177,
    178,
    *range(180, 190),
    191,
    198,
    199,
)

#: Mail domains and their weights; ``qq.com`` addresses are numeric QQ numbers.
MAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("qq.com", 0.38), ("163.com", 0.22), ("126.com", 0.1), ("sina.com", 0.05),
    ("foxmail.com", 0.06), ("outlook.com", 0.07), ("gmail.com", 0.05), ("139.com", 0.07),
)  # fmt: skip

MISSING_EMAIL_SHARE = 0.03
TIMEZONE = "Asia/Shanghai"

STREETS = ("人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "文化路", "胜利路")


def _weights(values: tuple[float, ...]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    weights: np.ndarray = array / array.sum()
    return weights


def _unique_phone_numbers(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` distinct 11-digit mobile numbers (as integers), drawn again where they clash."""
    prefixes = np.asarray(MOBILE_PREFIXES, dtype=np.int64)
    numbers = prefixes[rng.integers(0, len(prefixes), count)] * 10**8 + rng.integers(
        0, 10**8, count
    )
    while True:
        _, first_index = np.unique(numbers, return_index=True)
        clash = np.ones(count, dtype=bool)
        clash[first_index] = False
        if not clash.any():
            return numbers
        redraw = int(clash.sum())
        numbers[clash] = prefixes[rng.integers(0, len(prefixes), redraw)] * 10**8 + rng.integers(
            0, 10**8, redraw
        )


def simulate_borrowers(rng: np.random.Generator, borrower_ids: pl.Series) -> pl.DataFrame:
    """The ``borrowers.csv`` frame: ``borrower_id, name, phone, email, region, timezone,
    address``."""
    count = len(borrower_ids)
    surname_index = rng.choice(len(SURNAMES), count, p=_weights(tuple(s[2] for s in SURNAMES)))
    first_index = rng.integers(0, len(GIVEN_CHARACTERS), count)
    second_index = rng.integers(0, len(GIVEN_CHARACTERS), count)
    two_characters = rng.random(count) < 0.7
    region_index = rng.choice(len(REGIONS), count, p=_weights(tuple(r[1] for r in REGIONS)))
    phones = _unique_phone_numbers(rng, count)
    domain_index = rng.choice(
        len(MAIL_DOMAINS), count, p=_weights(tuple(d[1] for d in MAIL_DOMAINS))
    )
    mail_digits = rng.integers(0, 10_000, count)
    digit_style = rng.integers(0, 3, count)  # 0: none, 1: two digits, 2: four digits
    qq_numbers = rng.integers(10**5, 3 * 10**9, count)
    missing_email = rng.random(count) < MISSING_EMAIL_SHARE

    surnames = pl.Series([s[0] for s in SURNAMES]).gather(surname_index)
    surname_pinyin = pl.Series([s[1] for s in SURNAMES]).gather(surname_index)
    characters = pl.Series([g[0] for g in GIVEN_CHARACTERS])
    pinyin = pl.Series([g[1] for g in GIVEN_CHARACTERS])
    domains = pl.Series([d[0] for d in MAIL_DOMAINS]).gather(domain_index)

    frame = pl.DataFrame(
        {
            "borrower_id": borrower_ids,
            "surname": surnames,
            "surname_pinyin": surname_pinyin,
            "c1": characters.gather(first_index),
            "p1": pinyin.gather(first_index),
            "c2": characters.gather(second_index),
            "p2": pinyin.gather(second_index),
            "two": two_characters,
            "phone": phones,
            "domain": domains,
            "digits": mail_digits,
            "digit_style": digit_style,
            "qq": qq_numbers,
            "no_email": missing_email,
            "region": pl.Series([r[0] for r in REGIONS]).gather(region_index),
        }
    )
    handle = (
        pl.col("surname_pinyin")
        + pl.col("p1")
        + pl.when(pl.col("two")).then(pl.col("p2")).otherwise(pl.lit(""))
        + pl.when(pl.col("digit_style") == 1)
        .then((pl.col("digits") % 100).cast(pl.String).str.zfill(2))
        .when(pl.col("digit_style") == 2)
        .then(pl.col("digits").cast(pl.String).str.zfill(4))
        .otherwise(pl.lit(""))
    )
    email = (
        pl.when(pl.col("no_email"))
        .then(pl.lit(None, dtype=pl.String))
        .when(pl.col("domain") == "qq.com")
        .then(pl.col("qq").cast(pl.String) + pl.lit("@qq.com"))
        .otherwise(handle + pl.lit("@") + pl.col("domain"))
    )
    name = (
        pl.col("surname")
        + pl.col("c1")
        + pl.when(pl.col("two")).then(pl.col("c2")).otherwise(pl.lit(""))
    )
    return frame.select(
        "borrower_id",
        name.alias("name"),
        (pl.lit("+86 ") + pl.col("phone").cast(pl.String)).alias("phone"),
        email.alias("email"),
        "region",
        pl.lit(TIMEZONE).alias("timezone"),
        _address().alias("address"),
    )


def _address() -> pl.Expr:
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    street = pl.lit(pl.Series(STREETS)).gather(row % len(STREETS))
    return pl.format("{}{}{}号{}室", pl.col("region"), street, row * 7 % 389 + 1, row % 30 + 101)
