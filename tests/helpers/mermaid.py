"""Mermaid diagrams checked by Mermaid's own parser (scripts/mermaid/, installed by `make install` with npm ci),
and read back: the nodes and edges of the flowcharts vwt-deploy draws (vwt_deploy/build/diagrams.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

import pytest

from . import REPO

PARSER = REPO / "scripts" / "mermaid" / "parse.mjs"
FENCE = re.compile(r"^```mermaid\n(.*?)^```", re.MULTILINE | re.DOTALL)
_NODE = re.compile(r'^\s*(s\d+)[\[\(\{]+"(.*)"[\]\)\}]+(?::::(\w+))?$')
_EDGE = re.compile(r'^\s*(s\d+) (-->|-\.->|==>)(?:\|"(.*)"\|)? (s\d+)$')


def parse(diagrams: Mapping[str, str]) -> dict[str, str | None]:
    """{name: None when it parses, else Mermaid's error}, from one run of the parser over every diagram."""
    node = shutil.which("node")
    if node is None or not (PARSER.parent / "node_modules" / "mermaid").is_dir():
        pytest.fail("the Mermaid parser is not installed: run `make install` (it needs Node.js >= 18 with npm)")
    payload = json.dumps([{"name": name, "text": text} for name, text in diagrams.items()])
    done = subprocess.run([node, str(PARSER)], input=payload, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return {result["name"]: result["error"] for result in json.loads(done.stdout)}


def blocks(markdown: str) -> list[str]:
    """The ```mermaid blocks of a Markdown text."""
    return FENCE.findall(markdown)


@dataclass(frozen=True)
class Flowchart:
    labels: dict[str, str]  # node id -> label (lines joined by <br/>)
    classes: dict[str, str]  # node id -> its ::: class
    edges: list[tuple[str, str, str, str]]  # (source id, arrow, label, target id)
    link_styles: set[int]  # indexes of the highlighted edges
    taken: set[str]  # node ids of class `taken`

    def named(self, label_first_line: str) -> str:
        """The id of the node whose label starts with a state's name."""
        found = [i for i, label in self.labels.items() if label.split("<br/>")[0] == label_first_line]
        assert len(found) == 1, (label_first_line, found)
        return found[0]

    def edge_labels(self, source: str, target: str) -> list[tuple[str, str]]:
        return [(arrow, label) for s, arrow, label, t in self.edges if (s, t) == (source, target)]


def read_flowchart(text: str) -> Flowchart:
    labels: dict[str, str] = {}
    classes: dict[str, str] = {}
    edges: list[tuple[str, str, str, str]] = []
    styles: set[int] = set()
    taken: set[str] = set()
    for line in text.splitlines():
        if edge := _EDGE.match(line):
            edges.append((edge[1], edge[2], edge[3] or "", edge[4]))
        elif node := _NODE.match(line):
            labels[node[1]] = node[2]
            if node[3]:
                classes[node[1]] = node[3]
        elif line.strip().startswith("linkStyle "):
            styles.add(int(line.split()[1]))
        elif line.strip().startswith("class ") and line.strip().endswith(" taken"):
            taken.update(line.split()[1].split(","))
    return Flowchart(labels, classes, edges, styles, taken)
