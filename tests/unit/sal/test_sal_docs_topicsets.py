"""The topic-sets example in docs/sal.md is a valid file."""

from __future__ import annotations

import re
from pathlib import Path

from skystream.sal.bridge import TopicSetsFile

DOCS = Path(__file__).parents[3] / "docs" / "sal.md"


def test_the_documented_topic_sets_file_parses(tmp_path: Path) -> None:
    (example,) = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    path = tmp_path / "topicsets.yaml"
    path.write_text(example)
    parsed = TopicSetsFile.from_file(path)
    first = parsed.components[0]
    assert not isinstance(first, str)
    assert first.component == "MTM1M3" and len(first.topic_sets) == 2
    assert parsed.components[1:] == ["MTM2", "MTHexapod"]
