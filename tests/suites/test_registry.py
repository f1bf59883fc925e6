from __future__ import annotations

import pytest

from robustcheck.attacks import ATTACKS
from robustcheck.defences import DEFENCES
from robustcheck.errors import ConfigError
from robustcheck.registry import Registry


def test_register_get_list():
    r = Registry("widget")

    @r.register("a-one")
    class A: ...

    @r.register("b-two")
    class B: ...

    assert r.get("a-one") is A
    assert r.list() == ["a-one", "b-two"] and r.list("b*") == ["b-two"]
    assert "a-one" in r and len(r) == 2


def test_unknown_name_lists_known():
    with pytest.raises(ConfigError, match=r"unknown widget 'c'; known: a"):
        r = Registry("widget")
        r.register("a")(object)
        r.get("c")


def test_name_clash_is_an_error():
    r = Registry("widget")
    r.register("a")(int)
    with pytest.raises(ConfigError, match="already registered"):
        r.register("a")(str)
    r.register("a", replace=True)(str)
    assert r.get("a") is str


def test_builtin_registries():
    assert {"fgsm", "pgd-linf"} <= set(ATTACKS.list())
    assert {"none", "ae-kl", "ae-mse"} <= set(DEFENCES.list())
