"""Draw a state machine as a Mermaid flowchart, from its ASL definition.

The drawing is made from the rendered JSON, so it cannot disagree with what is deployed: every state is a
node, and every transition an edge (`Next`, a Choice rule's `Next` labelled with its condition, the
`Default`, and `Catch` edges, dotted and labelled with the errors they catch). Parallel branches and Map
iterators are drawn as subgraphs. With `taken` (the states an execution entered, in order), the states and
transitions of that run are highlighted.

GitHub renders Mermaid in Markdown; the Mermaid parser in scripts/mermaid/ checks the output in the tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vwt_deploy.asl import nested, transitions

_ASL_PREFIX = "arn:aws:states:::"

# Choice comparison operators (Step Functions Developer Guide, "Choice Rules"), as the drawing writes them
# (the longest suffix first: GreaterThanEquals also ends with Equals)
_OPERATORS = {
    "LessThanEquals": "<=",
    "GreaterThanEquals": ">=",
    "LessThan": "<",
    "GreaterThan": ">",
    "Equals": "==",
    "Matches": "matches",
}
_TYPE_TESTS = {
    "IsNull": "null",
    "IsPresent": "present",
    "IsString": "a string",
    "IsNumeric": "a number",
    "IsBoolean": "a boolean",
    "IsTimestamp": "a timestamp",
}

# node shapes per state type (Mermaid flowchart syntax: the opening and closing brackets)
_SHAPES = {
    "Choice": ("{", "}"),
    "Wait": ("{{", "}}"),
    "Pass": ("([", "])"),
    "Succeed": ("((", "))"),
    "Fail": ("((", "))"),
    "Parallel": ("[[", "]]"),
    "Map": ("[[", "]]"),
}
_CLASSES = (
    "classDef succeed fill:#d4f4dd,stroke:#2e7d32",
    "classDef fail fill:#fbd9d9,stroke:#c62828",
    "classDef taken stroke:#1565c0,stroke-width:3px",
)
_START, _END = "\0start", "\0end"  # the start and end nodes' keys: no state is named so
_TAKEN_LINK = "stroke:#1565c0,stroke-width:3px"


def _literal(value: Any) -> str:
    """A value as the condition writes it: strings in single quotes (no escaping in the label), the rest as JSON."""
    return "'" + value.replace("'", "\\'") + "'" if isinstance(value, str) else json.dumps(value)


def condition(rule: Mapping[str, Any]) -> str:
    """A Choice rule's condition as one readable line, e.g. `$.mode == 'tune' and not ($.n > 3)`."""
    if "Condition" in rule:  # JSONata
        text = str(rule["Condition"]).strip()
        return text[2:-2].strip() if text.startswith("{%") and text.endswith("%}") else text
    if "And" in rule:
        return " and ".join(_nested(r) for r in rule["And"])
    if "Or" in rule:
        return " or ".join(_nested(r) for r in rule["Or"])
    if "Not" in rule:
        return f"not {_nested(rule['Not'])}"
    variable = rule.get("Variable", "?")
    for key, value in rule.items():
        if key in ("Variable", "Next", "Comment", "Assign", "Output"):
            continue
        if key in _TYPE_TESTS:
            return f"{variable} is {'' if value else 'not '}{_TYPE_TESTS[key]}"
        path = key.endswith("Path")
        base = key[: -len("Path")] if path else key
        for suffix, symbol in _OPERATORS.items():
            if base.endswith(suffix):
                return f"{variable} {symbol} {value if path else _literal(value)}"
    return variable  # an unknown operator still names what it tests


def _nested(rule: Mapping[str, Any]) -> str:
    text = condition(rule)
    return f"({text})" if any(k in rule for k in ("And", "Or")) else text


def _caught(catcher: Mapping[str, Any]) -> str:
    return "catch " + ", ".join(catcher.get("ErrorEquals") or ["?"])


def _label(text: str) -> str:
    """Text for a quoted Mermaid label: the characters Mermaid would read as syntax or HTML, as entity codes."""
    for char, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text


def _task(state: Mapping[str, Any]) -> str:
    resource = str(state.get("Resource", ""))
    if resource.startswith(_ASL_PREFIX):
        return resource[len(_ASL_PREFIX) :]
    if ":function:" in resource:
        return "lambda " + resource.rsplit(":", 1)[-1]
    return resource


@dataclass(frozen=True)
class Edge:
    source: str  # state names (or "start"/"end")
    target: str
    label: str = ""
    kind: str = "next"  # next, choice, default, catch, branch


@dataclass
class _Drawing:
    lines: list[str] = field(default_factory=list)
    ids: dict[tuple[str, str], str] = field(default_factory=dict)  # (scope, state) -> node id
    edges: list[tuple[str, str, Edge]] = field(default_factory=list)  # (source id, target id, edge)

    def node_id(self, scope: str, name: str) -> str:
        return self.ids.setdefault((scope, name), f"s{len(self.ids)}")


def edges(definition: Mapping[str, Any]) -> Iterator[Edge]:
    """Every transition of the definition's top level, in the order the drawing draws them."""
    yield Edge("start", str(definition.get("StartAt")))
    for name, state in (definition.get("States") or {}).items():
        yield from _state_edges(name, state)


def _state_edges(name: str, state: Mapping[str, Any]) -> Iterator[Edge]:
    """The state's transitions as the validator reads them (`asl.transitions`), labelled, and End as an edge."""
    if state.get("End") is True:
        yield Edge(name, "end")
    for move in transitions(state):
        if move.rule is not None:  # a Choice rule or a catcher
            label = condition(move.rule) if move.kind == "choice" else _caught(move.rule)
        else:
            label = "default" if move.kind == "default" else ""
        yield Edge(name, move.target, label, move.kind)


def _arrow(edge: Edge) -> str:
    arrow = {"catch": "-.->", "branch": "==>"}.get(edge.kind, "-->")
    return f'{arrow}|"{_label(edge.label)}"|' if edge.label else arrow


def _draw(drawing: _Drawing, definition: Mapping[str, Any], scope: str, indent: str) -> None:
    start = drawing.node_id(scope, _START)
    drawing.lines.append(f'{indent}{start}(("start"))')
    for name, state in (definition.get("States") or {}).items():
        kind = state.get("Type", "?")
        node = drawing.node_id(scope, name)
        opening, closing = _SHAPES.get(kind, ("[", "]"))
        parts = [name, _task(state) if kind == "Task" else "", str(state.get("Error", "")) if kind == "Fail" else ""]
        text = "<br/>".join(_label(part) for part in parts if part)
        suffix = {"Succeed": ":::succeed", "Fail": ":::fail"}.get(kind, "")
        drawing.lines.append(f'{indent}{node}{opening}"{text}"{closing}{suffix}')
        for i, (_, branch) in enumerate(nested(state)):
            inner = f"{scope}/{name}[{i}]"
            drawing.lines.append(f'{indent}subgraph {node}_b{i} ["{_label(name)}: branch {i + 1}"]')
            _draw(drawing, branch, inner, indent + "  ")
            drawing.lines.append(f"{indent}end")
            drawing.edges.append((node, drawing.node_id(inner, _START), Edge(name, f"{inner}:start", kind="branch")))
    for edge in edges(definition):
        source = start if edge.source == "start" else drawing.node_id(scope, edge.source)
        if edge.target == "end" and (scope, _END) not in drawing.ids:
            drawing.lines.append(f'{indent}{drawing.node_id(scope, _END)}(("end"))')
        target = drawing.node_id(scope, _END if edge.target == "end" else edge.target)
        drawing.edges.append((source, target, edge))


def flowchart(definition: Mapping[str, Any], title: str | None = None, taken: Sequence[str] = ()) -> str:
    """The Mermaid flowchart of a state machine; `taken` highlights the states an execution entered, in order."""
    drawing = _Drawing()
    head = ["---", f"title: {json.dumps(title)}", "---"] if title else []
    drawing.lines = [*head, "flowchart TD"]
    _draw(drawing, definition, "", "  ")
    taken_pairs = set(zip(["start", *taken], [*taken, None], strict=True))
    top = {name: drawing.ids[("", name)] for name in definition.get("States") or {}}
    for index, (source, target, edge) in enumerate(drawing.edges):
        drawing.lines.append(f"  {source} {_arrow(edge)} {target}")
        if (edge.source, edge.target) in taken_pairs or (edge.target == "end" and taken and taken[-1] == edge.source):
            drawing.lines.append(f"  linkStyle {index} {_TAKEN_LINK}")
    drawing.lines += [f"  {line}" for line in _CLASSES]
    entered = [top[name] for name in dict.fromkeys(taken) if name in top]
    if entered:
        drawing.lines.append(f"  class {','.join(entered)} taken")
    return "\n".join(drawing.lines) + "\n"
