"""Services and methods of the original that billcore does not offer, each with the reason:
a client calling one gets a fault saying so (``Server.<Service>.<method>.not_supported``)
rather than a bare "unknown method"."""

from __future__ import annotations

CATALOGUE = (
    "billcore's {what} are kept in its own catalogue, through /api/v1/{path} and the Rating "
    "pages, not through /rest/"
)
SERVICES: dict[str, str] = {
    "Destination": CATALOGUE.format(what="destinations", path="destinations"),
    "Vendor": "billcore does not handle vendors (the buying side of a telecom operator)",
}
_EXTENSIONS = (
    "customer extensions (the Cloud PBX extensions and hunt groups of a customer) are outside "
    "billcore's scope: billcore bills, it does not run a PBX"
)
METHODS: dict[tuple[str, str], str] = {
    ("Customer", name): _EXTENSIONS
    for name in (
        "add_customer_extension",
        "get_extensions_list",
        "get_customer_extension_info",
        "update_customer_extension",
        "delete_customer_extension",
        "add_customer_huntgroup",
        "get_huntgroup_list",
    )
}


def reason(service: str, method: str) -> str | None:
    """Why ``service``/``method`` is not offered, or None when billcore does not know it."""
    if (service, method) in METHODS:
        return METHODS[(service, method)]
    return SERVICES.get(service)
