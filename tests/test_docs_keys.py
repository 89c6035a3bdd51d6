"""docs/nvinfer-config.md must list every nvinfer key, with the tables docs/_gen_keys.py makes now."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from dsflow.infer.keys import CLASS_KEYS, PROPERTY_KEYS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_gen_keys", DOCS / "_gen_keys.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PAGE = (DOCS / "nvinfer-config.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["property-keys", "class-keys"])
def test_committed_table_is_the_generators_output(name: str) -> None:
    gen = generator()
    assert gen.committed(PAGE, name) == gen.block(name), f"run: python docs/_gen_keys.py --write ({name} is stale)"


@pytest.mark.parametrize(("name", "keys"), [("property-keys", PROPERTY_KEYS), ("class-keys", CLASS_KEYS)])
def test_every_key_has_a_row_in_its_table(name: str, keys: tuple) -> None:
    rows = generator().committed(PAGE, name).splitlines()[3:-1]
    assert [re.match(r"\| `([^`]+)` \|", row).group(1) for row in rows] == [k.name for k in keys]


def test_every_key_name_appears_on_the_page() -> None:
    missing = [k.name for k in (*PROPERTY_KEYS, *CLASS_KEYS) if f"`{k.name}`" not in PAGE]
    assert missing == []


def test_differences_name_only_known_keys() -> None:
    known = {k.name for k in (*PROPERTY_KEYS, *CLASS_KEYS)}
    assert sorted(set(generator().DIFFERENCES) - known) == []
