"""django-ninja names an OpenAPI component after its schema class alone: two routers' schemas
with the same class name silently overwrite each other in ``/api/v1/openapi.json``, so a client
(and ``test_fuzz_api``) reads one operation's reply against another's schema. Three routers hit
it in issues 13, 14 and 16 (``PlanOut``, ``AccountOut``, ``EffectiveOut``). This guard fails at
once, naming the clash: every schema class of ``billcore.api`` has a name of its own."""

from __future__ import annotations

import collections
import importlib
import inspect
import pkgutil

from pydantic import BaseModel

import billcore.api

# Bases and query parameters shared on purpose, never a component of their own: the two
# declared-settings bases (``classes``/``customers``, each turned into named models by
# ``pydantic.create_model``) and the list pages' query parameters.
SHARED = {"_Settable", "_Out", "PageParams"}


def test_every_api_schema_class_has_a_name_of_its_own() -> None:
    owners: dict[str, list[str]] = collections.defaultdict(list)
    for info in pkgutil.iter_modules(billcore.api.__path__):
        module = importlib.import_module(f"billcore.api.{info.name}")
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseModel)
                and obj.__module__ == module.__name__
                and name not in SHARED
            ):
                owners[obj.__name__].append(info.name)
    clashes = {name: mods for name, mods in owners.items() if len(mods) > 1}
    assert clashes == {}
