"""The examples in docs/*.md run as written against the session broker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from skystream.config import KafkaSettings

DOCS = Path(__file__).parents[2] / "docs"
PAGES = sorted(DOCS.glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_examples_on_page(page: Path, kafka_settings: KafkaSettings, registry_url: str) -> None:
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)
    assert blocks, f"{page.name} has no python examples"
    address = str(kafka_settings.bootstrap_servers)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    try:
        for number, block in enumerate(blocks, start=1):
            code = (
                block.replace("127.0.0.1:9092", address)
                .replace("http://127.0.0.1:8081", registry_url)
                .replace("/path/to/ts_xml/sal_interfaces", "/work/shared/data/sal_interfaces")
            )
            exec(compile(code, f"{page.name} example {number}", "exec"), namespace)
    finally:
        admin = AdminClient({"bootstrap.servers": address})
        docs_topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith("docs-")]
        if docs_topics:
            for future in admin.delete_topics(docs_topics).values():
                future.result()
