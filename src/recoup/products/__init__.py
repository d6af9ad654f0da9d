"""Products: the installment offers a lender sells, declared in a YAML file the user edits."""

from recoup.products.spec import (
    DEFAULT_BUCKETS,
    Bucket,
    ChargeComponent,
    FeeModel,
    LateFee,
    Product,
    ProductCatalog,
    ProductError,
    bucket_for_dpd,
    load_catalog,
    parse_catalog,
)

__all__ = [
    "DEFAULT_BUCKETS",
    "Bucket",
    "ChargeComponent",
    "FeeModel",
    "LateFee",
    "Product",
    "ProductCatalog",
    "ProductError",
    "bucket_for_dpd",
    "load_catalog",
    "parse_catalog",
]
