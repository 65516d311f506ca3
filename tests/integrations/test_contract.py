"""The registry's contract: every type is declared the same way and behaves as declared."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from integrations.base import Field, IntegrationType, Kind, SettingsError
from integrations.registry import TYPE_MODULES, all_types, get_type

TESTS = Path(__file__).parent
TYPES = list(all_types().values())


def type_id(cls: type[IntegrationType]) -> str:
    return cls.type


def test_every_module_defines_one_registered_type():
    assert len(TYPES) == len(TYPE_MODULES)
    for module_name, cls in zip(TYPE_MODULES, TYPES, strict=True):
        assert cls.__module__ == module_name


@pytest.mark.parametrize("cls", TYPES, ids=type_id)
def test_module_opens_with_the_api_it_speaks(cls):
    doc = inspect.getmodule(cls).__doc__ or ""
    assert doc.strip(), f"{cls.__module__} has no module docstring naming its API"


@pytest.mark.parametrize("cls", TYPES, ids=type_id)
def test_declaration_is_complete(cls):
    assert cls.type and cls.label and cls.description
    assert cls.fields and all(isinstance(f, Field) for f in cls.fields)
    keys = [f.key for f in cls.fields]
    assert len(keys) == len(set(keys)), "duplicate field keys"
    for declared in cls.fields:
        assert declared.label, declared.key
        if declared.kind is Kind.CHOICE:
            assert declared.choices, f"{declared.key} is a choice without choices"
        if declared.required:
            assert declared.required_error, f"{declared.key} is required but has no spec error text"


@pytest.mark.parametrize("cls", TYPES, ids=type_id)
def test_example_validates(cls):
    assert cls.example, f"{cls.type} has no example settings"
    cls.validate(cls.example)


@pytest.mark.parametrize("cls", TYPES, ids=type_id)
def test_example_round_trips_through_the_secret_split(cls):
    plain, secure = cls.split_secrets(cls.example)
    assert not set(secure) - set(cls.secret_keys())
    assert cls.validate(plain, secure) == cls.validate(cls.example)


REQUIRED = [(cls, f) for cls in TYPES for f in cls.fields if f.required]


@pytest.mark.parametrize(("cls", "declared"), REQUIRED, ids=[f"{c.type}.{f.key}" for c, f in REQUIRED])
def test_every_required_field_has_its_error(cls, declared):
    settings = {k: v for k, v in cls.example.items() if k != declared.key}
    with pytest.raises(SettingsError) as error:
        cls.validate(settings)
    assert (declared.key, declared.required_error) in error.value.errors


@pytest.mark.parametrize("cls", TYPES, ids=type_id)
def test_type_has_a_request_test_at_a_real_peer(cls):
    module = cls.__module__.rsplit(".", 1)[-1]
    test_file = TESTS / f"test_{module}.py"
    assert test_file.exists(), f"{test_file.name} is missing"
    text = test_file.read_text()
    # A request test captures the real request at a loopback HTTP receiver or SMTP server.
    assert re.search(r"\breceiver\b|\bsmtp_server\b", text), f"{test_file.name} has no request test"


@pytest.mark.parametrize("cls", TYPES, ids=type_id)
def test_lookup_is_case_insensitive_and_knows_aliases(cls):
    assert get_type(cls.type) is cls
    assert get_type(cls.type.upper()) is cls
    for alias in cls.aliases:
        assert get_type(alias) is cls


def test_the_catalogue_describes_every_field():
    for cls in TYPES:
        described = cls.describe()
        assert [f["key"] for f in described["fields"]] == [f.key for f in cls.fields]
        assert described["example"] == cls.example


def test_modules_stay_small():
    for module_name in TYPE_MODULES:
        source = inspect.getsource(importlib.import_module(module_name))
        assert source.count("\n") <= 400, f"{module_name} is over 400 lines"
