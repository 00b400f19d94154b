"""Each model's state machine drawn as a Mermaid flowchart from its rendered ASL (`render --diagram`): every state
and every transition is in the drawing, Choice edges carry their conditions, Catch edges are dotted, and Mermaid's
own parser reads every drawing."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from tests.helpers.mermaid import parse, read_flowchart
from vwt_deploy.build.diagrams import condition, flowchart
from vwt_deploy.build.statemachines import render
from vwt_deploy.config import load

MODELS = ("bid-problem-gambling", "gb-problem-gambling", "gb-marketing", "gb-unusual-behaviour")


def _expected_edges(definition):
    """(source, target, kind) of every transition, read from the ASL here rather than from the drawing's code."""
    out = [("start", definition["StartAt"], "next")]
    for name, state in definition["States"].items():
        out += [(name, rule["Next"], "choice") for rule in state.get("Choices", [])]
        out += [(name, state["Default"], "default")] if "Default" in state else []
        out += [(name, state["Next"], "next")] if "Next" in state else []
        out += [(name, "end", "next")] if state.get("End") else []
        out += [(name, catch["Next"], "catch") for catch in state.get("Catch", [])]
    return Counter(out)


def _drawn_edges(chart):
    names = {node: label.split("<br/>")[0] for node, label in chart.labels.items()}
    kinds = {"-.->": "catch"}
    out = Counter()
    for source, arrow, label, target in chart.edges:
        kind = kinds.get(arrow) or ("default" if label == "default" else "choice" if label else "next")
        out[(names[source], names[target], kind)] += 1
    return out


@pytest.fixture(scope="module")
def drawings(project, tmp_path_factory):
    """{(env, model): (definition, drawing text)} from `render --diagram` of every model in local and prod."""
    out = {}
    for env_name in ("local", "prod"):
        folder = tmp_path_factory.mktemp(env_name)
        render(project, load(env_name, project.root), out_dir=folder, diagram=True)
        for model in MODELS:
            out[(env_name, model)] = (
                json.loads((folder / f"{model}.asl.json").read_text()),
                (folder / f"{model}.mmd").read_text(),
            )
    return out


def test_every_drawing_parses_with_mermaids_parser(drawings):
    errors = parse({f"{env}/{model}": text for (env, model), (_, text) in drawings.items()})
    assert len(errors) == 2 * len(MODELS)
    assert {name: error for name, error in errors.items() if error} == {}


@pytest.mark.parametrize("env_name", ["local", "prod"])
@pytest.mark.parametrize("model", MODELS)
def test_every_state_and_every_transition_is_drawn(drawings, env_name, model):
    definition, text = drawings[(env_name, model)]
    chart = read_flowchart(text)
    states = definition["States"]
    drawn = Counter(label.split("<br/>")[0] for label in chart.labels.values())
    ends = ["end"] if any(state.get("End") for state in states.values()) else []
    assert drawn == Counter([*states, "start", *ends])
    assert _drawn_edges(chart) == _expected_edges(definition)
    assert len(states) > 40  # the whole pipeline, not a stub
    # each Task names what it calls; terminal states are drawn as such
    for name, state in states.items():
        node = chart.named(name)
        if state["Type"] == "Task":
            assert state["Resource"].removeprefix("arn:aws:states:::") in chart.labels[node]
        if state["Type"] in ("Succeed", "Fail"):
            assert chart.classes[node] == state["Type"].lower()
    assert text.startswith(f'---\ntitle: "{model} ({env_name})"\n---\nflowchart TD\n')


def test_choice_edges_carry_their_conditions_and_catch_edges_are_dotted(drawings):
    definition, text = drawings[("local", "gb-marketing")]
    chart = read_flowchart(text)
    choose, tune, train = (chart.named(n) for n in ("ChooseMode", "Tune", "Train"))
    assert chart.edge_labels(choose, tune) == [("-->", "$.mode == 'tune'")]
    assert chart.edge_labels(choose, train) == [("-->", "default")]
    report = chart.named("ReportFailure")
    assert chart.edge_labels(train, report) == [("-.->", "catch States.ALL")]
    assert definition["States"]["Train"]["Catch"][0]["ErrorEquals"] == ["States.ALL"]


def test_conditions_read_as_written():
    assert condition({"Variable": "$.n", "NumericGreaterThanEquals": 3}) == "$.n >= 3"
    assert condition({"Variable": "$.a", "StringEqualsPath": "$.b"}) == "$.a == $.b"
    assert condition({"Variable": "$.a", "IsPresent": False}) == "$.a is not present"
    assert condition({"Variable": "$.a", "BooleanEquals": True}) == "$.a == true"
    assert condition({"Variable": "$.s", "StringMatches": "it's*"}) == "$.s matches 'it\\'s*'"
    nested = {"And": [{"Variable": "$.a", "IsNull": True}, {"Or": [{"Variable": "$.b", "NumericLessThan": 1}]}]}
    assert condition(nested) == "$.a is null and ($.b < 1)"
    assert condition({"Not": {"Variable": "$.t", "TimestampLessThan": "2026-01-01T00:00:00Z"}}) == (
        "not $.t < '2026-01-01T00:00:00Z'"
    )
    assert condition({"Condition": "{% $states.input.n > 2 %}", "Next": "X"}) == "$states.input.n > 2"


def test_parallel_and_map_states_are_subgraphs_and_a_path_taken_is_highlighted():
    definition = {
        "StartAt": "Fan out",
        "States": {
            "Fan out": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 1, "End": True}}},
                ],
                "Next": "Each",
                "Catch": [{"ErrorEquals": ["States.TaskFailed", "Custom"], "Next": "Oops"}],
            },
            "Each": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "C", "States": {"C": {"Type": "Pass", "End": True}}},
                "Next": 'Is it <big> & "quoted"?',
            },
            'Is it <big> & "quoted"?': {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "StringEquals": 'a "b" <c>', "Next": "Done"}],
                "Default": "Oops",
            },
            "Done": {"Type": "Succeed"},
            "Oops": {"Type": "Fail", "Error": "Broken"},
        },
    }
    text = flowchart(definition, taken=["Fan out", "Each", 'Is it <big> & "quoted"?', "Done"])
    assert parse({"synthetic": text}) == {"synthetic": None}
    assert text.count("subgraph ") == 3 and "==>" in text
    chart = read_flowchart(text)
    assert chart.labels[chart.named("Oops")] == "Oops<br/>Broken"
    choice = chart.named("Is it #lt;big#gt; #amp; #quot;quoted#quot;?")
    assert chart.edge_labels(choice, chart.named("Done")) == [("-->", "$.x == 'a #quot;b#quot; #lt;c#gt;'")]
    assert chart.edge_labels(chart.named("Fan out"), chart.named("Oops")) == [
        ("-.->", "catch States.TaskFailed, Custom")
    ]
    # the run's states, and the edges between consecutive ones (from start on), are highlighted; no others
    taken = {chart.named(n) for n in ("Fan out", "Each", "Done")} | {choice}
    assert chart.taken == taken
    highlighted = {(chart.edges[i][0], chart.edges[i][3]) for i in chart.link_styles}
    top_start = "s0"  # the top level's start node is drawn first
    assert chart.labels[top_start] == "start"
    assert highlighted == {
        (top_start, chart.named("Fan out")),
        (chart.named("Fan out"), chart.named("Each")),
        (chart.named("Each"), choice),
        (choice, chart.named("Done")),
    }


def test_render_diagram_writes_a_drawing_next_to_each_definition(project, tmp_path):
    from vwt_deploy.cli import main

    result = CliRunner().invoke(
        main, ["render", "--env", "dev", "--model", "gb-marketing", "--diagram", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.split() == [str(tmp_path / f"gb-marketing{s}") for s in (".asl.json", ".policy.json", ".mmd")]
    without = CliRunner().invoke(
        main, ["render", "--env", "dev", "--model", "gb-marketing", "--out", str(tmp_path / "x")]
    )
    assert not (tmp_path / "x" / "gb-marketing.mmd").exists() and without.exit_code == 0
