"""The README and docs/ against the repository: every relative link resolves (file and #anchor), every documented
`vwt-deploy` command exists and lists each option written with it in its --help, every `make` target exists, the
README stays short with the architecture picture before the first scroll, and every doc is linked from it."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tests.helpers import REPO
from vwt_deploy.cli import main

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, *DOCS]

README_MAX_BYTES = 10_240
DIAGRAM_WITHIN_LINES = 20
MIN_COMMANDS = 30  # documented command lines checked against --help: the test cannot pass on an empty set
MIN_MAKE_TARGETS = 5

FENCE = re.compile(r"^ {0,3}(```|~~~)")
INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+(?:\n[^`\n]+)?)`(?!`)")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*$")
COMMAND_WORD = re.compile(r"[a-z][a-z0-9-]*(\|[a-z][a-z0-9-]*)*")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
MAKE_TARGET = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_.-]*)\s*:(?!=)", re.MULTILINE)


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


# --- reading Markdown ---------------------------------------------------------------------------------------------


def blank_code_blocks(text: str) -> str:
    """The text with fenced code blocks blanked (lines kept, so line numbers stay)."""
    out, fenced = [], False
    for line in text.split("\n"):
        if FENCE.match(line):
            fenced = not fenced
            out.append("")
        else:
            out.append("" if fenced else line)
    return "\n".join(out)


def prose(text: str) -> str:
    """The text outside code: fenced blocks and inline code spans blanked, positions kept."""
    text = blank_code_blocks(text)
    return INLINE_CODE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def code_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line of a code block: fenced, or indented by 4 spaces after a blank line (a list
    item's wrapped line is no code)."""
    out, fenced, indented, previous = [], False, False, ""
    for number, line in enumerate(text.split("\n"), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif fenced:
            out.append((number, line.strip()))
        else:
            indented = line.startswith("    ") and (indented or not previous.strip())
            if indented:
                out.append((number, line.strip()))
        previous = line
    return out


def inline_code(text: str) -> list[tuple[int, str]]:
    """(line number, content) of every inline code span outside fenced blocks; a span may wrap onto a second line."""
    text = blank_code_blocks(text)
    return [(text.count("\n", 0, m.start()) + 1, " ".join(m.group(1).split())) for m in INLINE_CODE.finditer(text)]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: the rendered text, lowercased, punctuation but `-` and `_` dropped, spaces `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link renders as its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    return "".join(ch for ch in text if ch.isalnum() or ch in " -_").replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in blank_code_blocks(path.read_text()).split("\n"):
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return frozenset(out)


# --- 1. relative links --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """A link's target, or a documented command line, and where it is."""

    page: Path
    line: int
    text: str

    def __str__(self) -> str:
        return f"{rel(self.page)}:{self.line}: {self.text}"


def links(page: Path) -> list[Found]:
    text = prose(page.read_text())
    return [
        Found(page, text.count("\n", 0, m.start()) + 1, m.group(1))
        for m in LINK.finditer(text)
        if not SCHEME.match(m.group(1))
    ]


LINKS = [link for page in PAGES for link in links(page)]


@pytest.mark.parametrize("link", LINKS, ids=str)
def test_relative_link_resolves(link: Found) -> None:
    path, _, fragment = link.text.partition("#")
    target = (link.page.parent / path).resolve() if path else link.page
    assert target.exists(), f"{link}: no such file {target}"
    if fragment and target.suffix == ".md":
        assert fragment in anchors(target), (
            f"{link}: {rel(target)} has no heading with the anchor #{fragment}; its anchors: {sorted(anchors(target))}"
        )


def test_links_are_found() -> None:
    assert len(LINKS) >= 20, f"only {len(LINKS)} relative links found in README.md and docs/: is the reader broken?"


# --- 2. documented commands and their options ---------------------------------------------------------------------


def command_text(text: str, program: str) -> str | None:
    """`text` from `program` on, after an optional `$ ` and environment assignments; None if it runs something else."""
    text = text.removeprefix("$ ")
    words = text.split()
    while words and ENV_ASSIGNMENT.match(words[0]):
        words.pop(0)
    if not words or words[0] != program:
        return None
    command = " ".join(words)
    return re.split(r"\s#", command, maxsplit=1)[0].strip()  # a shell comment is no part of it


def documented(program: str) -> list[Found]:
    out = []
    for page in PAGES:
        text = page.read_text()
        for line, code in sorted(code_lines(text) + inline_code(text)):
            command = command_text(code, program)
            if command and command != program:
                out.append(Found(page, line, command))
    return out


def words_of(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:  # a placeholder with an odd quote
        return command.split()


def resolve(words: list[str]) -> tuple[list[list[str]], list[str]]:
    """The command paths the words name (`approve|reject` names two), and the options written before the first one.

    Fails with a message when a word in command position is no command of its group (groups take no arguments, so
    only a placeholder such as `...` or `<command>` may stand there)."""
    paths: list[list[str]] = [[]]
    leading: list[str] = []
    group: click.Group = main
    for word in words:
        if word.startswith("-"):
            if paths == [[]]:
                leading.append(word)  # the group's own options, before any command: `vwt-deploy --verbose up`
                continue
            break
        if not re.fullmatch(COMMAND_WORD, word):
            break  # a placeholder
        names = word.split("|")
        unknown = [name for name in names if name not in group.commands]
        assert not unknown, f"`vwt-deploy {' '.join([*paths[0], unknown[0]])}`: {unknown[0]} is no command"
        paths = [[*path, name] for path in paths for name in names]
        subs = [group.commands[name] for name in names]
        groups = [sub for sub in subs if isinstance(sub, click.Group)]
        if not groups:
            break
        assert len(groups) == len(subs), f"{word}: a mix of groups and commands"
        group = groups[0]  # alternatives of groups are written nowhere; the first stands for them
    return paths, leading


@cache
def help_text(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, f"vwt-deploy {' '.join(path)} --help failed:\n{result.output}"
    return result.output


def options(command: str) -> list[str]:
    return sorted(set(OPTION.findall(command)))


COMMANDS = documented("vwt-deploy")


@pytest.mark.parametrize("doc", COMMANDS, ids=str)
def test_documented_command_exists_with_its_options(doc: Found) -> None:
    words = words_of(doc.text)[1:]
    try:
        paths, leading = resolve(words)
    except AssertionError as error:
        pytest.fail(f"{doc}: {error}")
    assert paths != [[]] or not [w for w in words if not w.startswith("-")], f"{doc}: names no command"
    for option in options(" ".join(leading)):
        assert re.search(rf"(?<![\w-]){option}(?![\w-])", help_text(())), f"{doc}: vwt-deploy has no option {option}"
    rest = " ".join(words[len(leading) :])
    for path in paths:
        usage = help_text(tuple(path))
        missing = [o for o in options(rest) if not re.search(rf"(?<![\w-]){o}(?![\w-])", usage)]
        assert not missing, f"{doc}: `vwt-deploy {' '.join(path)} --help` does not list {missing}"


def test_enough_commands_are_checked() -> None:
    assert len(COMMANDS) >= MIN_COMMANDS, (
        f"only {len(COMMANDS)} documented `vwt-deploy` lines found (at least {MIN_COMMANDS} expected): "
        "is the reader of code blocks and code spans broken?"
    )


def leaf_commands(group: click.Group, path: tuple[str, ...] = ()) -> list[str]:
    out = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out += leaf_commands(command, (*path, name))
        else:
            out.append(" ".join((*path, name)))
    return out


def test_every_command_is_documented() -> None:
    written = set()
    for doc in COMMANDS:
        paths, _ = resolve(words_of(doc.text)[1:])
        written |= {" ".join(path) for path in paths}
    missing = sorted(set(leaf_commands(main)) - written)
    assert not missing, f"commands no doc shows: {missing} (add them to the README's command list)"


# --- make targets -------------------------------------------------------------------------------------------------


def make_targets() -> set[str]:
    return {t for t in MAKE_TARGET.findall((REPO / "Makefile").read_text()) if not t.startswith(".")}


MAKES = documented("make")


@pytest.mark.parametrize("doc", MAKES, ids=str)
def test_documented_make_target_exists(doc: Found) -> None:
    targets = [w for w in words_of(doc.text)[1:] if not w.startswith(("-", "[", "<")) and "=" not in w]
    assert targets, f"{doc}: names no target"
    unknown = sorted(set(targets) - make_targets())
    assert not unknown, f"{doc}: the Makefile has no target {unknown}"


def test_enough_make_targets_are_checked() -> None:
    assert len(MAKES) >= MIN_MAKE_TARGETS, f"only {len(MAKES)} documented `make` lines found"


# --- 3. the README: short, the picture first ----------------------------------------------------------------------


def test_readme_is_short() -> None:
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, (
        f"README.md is {size:,} bytes (at most {README_MAX_BYTES:,}): move detail to docs/ and link to it"
    )


def test_readme_shows_the_architecture_before_the_first_scroll() -> None:
    lines = README.read_text().split("\n")
    first = next(
        (n for n, line in enumerate(lines, 1) if line.strip() in ("```mermaid", "<!-- DIAGRAM:architecture -->")),
        None,
    )
    assert first is not None, "README.md has no Mermaid diagram"
    assert first <= DIAGRAM_WITHIN_LINES, f"README.md's diagram starts on line {first} (at most {DIAGRAM_WITHIN_LINES})"


# --- 4. every doc is reachable from the README --------------------------------------------------------------------


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_doc_is_linked_from_the_readme(doc: Path) -> None:
    linked = {(README.parent / link.text.partition("#")[0]).resolve() for link in links(README)}
    assert doc.resolve() in linked, f"README.md does not link {rel(doc)}"


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_doc_starts_with_a_title(doc: Path) -> None:
    assert doc.read_text().startswith("# "), f"{rel(doc)} does not start with an H1"


def test_there_are_docs() -> None:
    assert len(DOCS) >= 8, f"docs/ holds {len(DOCS)} pages"


# --- the reader itself --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("`vwt-deploy up` on the local default", "vwt-deploy-up-on-the-local-default"),
        ("The destroy guard (dev, staging, prod)", "the-destroy-guard-dev-staging-prod"),
        ("`admin_email` on staging and prod", "admin_email-on-staging-and-prod"),
        ("The deploy role's flow", "the-deploy-roles-flow"),
        ("See [the docs](docs/x.md)", "see-the-docs"),
    ],
)
def test_slug_is_githubs(heading: str, expected: str) -> None:
    assert slug(heading) == expected


def test_resolve_reads_alternatives_and_stops_at_arguments() -> None:
    assert resolve(["models", "approve|reject", "--env", "prod"]) == ([["models", "approve"], ["models", "reject"]], [])
    assert resolve(["--verbose", "local", "tick", "--all"]) == ([["local", "tick"]], ["--verbose"])
    assert resolve(["retrain|score|drift", "...", "--wait"])[0] == [["retrain"], ["score"], ["drift"]]
    with pytest.raises(AssertionError, match="no command"):
        resolve(["frobnicate", "--env", "dev"])
    with pytest.raises(AssertionError, match="no command"):
        resolve(["models", "promote"])


def test_code_is_read_from_blocks_and_spans_only() -> None:
    text = (
        "Run `vwt-deploy up\n--env dev` now.\n\n"
        "```sh\n$ VWT_X=1 vwt-deploy down --yes  # gone\n```\n\n"
        "- a list item\n    make sure\n"
    )
    assert inline_code(text) == [(1, "vwt-deploy up --env dev")]
    assert code_lines(text) == [(5, "$ VWT_X=1 vwt-deploy down --yes  # gone")]
    assert command_text("$ VWT_X=1 vwt-deploy down --yes  # gone", "vwt-deploy") == "vwt-deploy down --yes"
    assert command_text("make sure", "vwt-deploy") is None
