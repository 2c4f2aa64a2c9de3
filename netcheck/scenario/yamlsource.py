"""Safe YAML to plain data, keeping the line of every key and item.

We compose the node graph with PyYAML's pure-Python SafeLoader and build values ourselves:
only the standard scalar tags are accepted (no `!!python/...`, no custom tags), duplicate
keys are errors instead of silently keeping the last, aliases cannot blow up (node budget,
no cycles), and `${VAR}` substitution happens per scalar so line numbers never move.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
import yaml.reader
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from netcheck.errors import Location, ScenarioError, ScenarioErrors
from netcheck.scenario.paths import Path, format_path
from netcheck.scenario.suggest import did_you_mean, one_of
from netcheck.scenario.variables import NAME as VAR_NAME
from netcheck.scenario.variables import Substituter, VariableProblem

_TAG = "tag:yaml.org,2002:"
_CONSTRUCTED = {f"{_TAG}{t}" for t in ("int", "float", "bool", "null")}
# Dates and the like stay the text the user wrote: no field of ours wants a datetime.
_AS_TEXT = {f"{_TAG}str", f"{_TAG}timestamp"}
MAX_NODES = 100_000
MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    source: str  # the path as the user gave it, for messages
    data: dict[str, Any]
    lines: dict[Path, int]
    variables: dict[str, str]  # resolved: declared + overrides + used defaults


def load_document(
    path: str | os.PathLike[str], overrides: Mapping[str, str] | None = None
) -> Document:
    source = os.fspath(path)
    text = _read(source)
    root = _compose(source, text)
    return _Converter(source, root, dict(overrides or {})).run()


def _fail(source: str, message: str, line: int = 0, hint: str | None = None) -> ScenarioErrors:
    return ScenarioErrors([ScenarioError(Location(path=source, line=line), "", message, hint)])


def _read(source: str) -> str:
    try:
        with open(source, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise _fail(source, "file does not exist") from None
    except IsADirectoryError:
        raise _fail(source, "is a directory, not a scenario file") from None
    except PermissionError:
        raise _fail(source, "cannot read the file: permission denied") from None
    except OSError as exc:
        raise _fail(source, f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise _fail(source, f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _fail(source, "not UTF-8 text", line) from None


def _compose(source: str, text: str) -> MappingNode:
    if not text.strip():
        raise _fail(source, "the file is empty", hint="Start with 'name:' (see scenarios/)")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = exc.problem or exc.context or "invalid YAML"
        raise _fail(source, f"YAML syntax error: {problem}", line) from None
    except yaml.reader.ReaderError as exc:
        # The reader knows only a character offset: turn it into the line a person can find.
        line = text[: exc.position].count("\n") + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise _fail(
            source, f"the character {char!a} (U+{ord(char):04X}) is not allowed in YAML",
            line, "Remove it (in a double-quoted string, write it as an escape)",
        ) from None
    except yaml.YAMLError as exc:
        raise _fail(source, f"YAML error: {exc}") from None
    except RecursionError:
        raise _fail(source, "YAML is nested too deeply") from None
    if root is None:
        raise _fail(source, "the file is empty", hint="Start with 'name:' (see scenarios/)")
    if not isinstance(root, MappingNode):
        kind = "a list" if isinstance(root, SequenceNode) else "a single value"
        raise _fail(
            source,
            f"the top level must be a mapping (name:, lab:, networks:, ...), not {kind}",
            root.start_mark.line + 1,
        )
    return root


class _Converter:
    def __init__(self, source: str, root: MappingNode, overrides: dict[str, str]) -> None:
        self.source = source
        self.root = root
        self.overrides = overrides
        self.lines: dict[Path, int] = {(): root.start_mark.line + 1}
        self.errors: list[ScenarioError] = []
        self.budget = MAX_NODES
        self.active: set[int] = set()
        self.constructor = SafeConstructor()
        self.subst: Substituter | None = None

    def error(self, line: int, path: Path, message: str, hint: str | None = None) -> None:
        where = Location(path=self.source, line=line)
        self.errors.append(ScenarioError(where, format_path(path), message, hint))

    def run(self) -> Document:
        declared = self._declared_variables()
        values = {**declared, **self.overrides}
        self.subst = Substituter(values)
        data = self.convert(self.root, ())
        self._check_overrides(declared)
        if self.errors:
            raise ScenarioErrors(sorted(self.errors, key=lambda e: e.location.line))
        assert isinstance(data, dict)
        variables = {**values, **self.subst.used}
        return Document(source=self.source, data=data, lines=self.lines, variables=variables)

    def _check_overrides(self, declared: Mapping[str, str]) -> None:
        """A --set of a name the file neither declares nor uses would be silently ignored,
        and the run would use the default the user meant to replace."""
        assert self.subst is not None
        known = {*declared, *self.subst.used}
        line = self.lines.get(("variables",), 0)
        for name in self.overrides:
            if name in known or not VAR_NAME.match(name):
                continue
            hint = did_you_mean(name, known) or (
                f"Its variables: {one_of(known)}" if known else "It uses no variables"
            )
            self.error(line, ("variables",) if line else (),
                       f"--set {name}: the scenario has no variable '{name}'", hint)

    def _declared_variables(self) -> dict[str, str]:
        for name in self.overrides:
            if not VAR_NAME.match(name):
                self.error(0, ("variables",), f"--set {name!r}: not a variable name")
        node = None
        for key, value_node in self.root.value:
            if isinstance(key, ScalarNode) and key.value == "variables":
                node = value_node
        if node is None:
            return {}
        path: Path = ("variables",)
        raw = self.convert(node, path, substitute=False)
        line = node.start_mark.line + 1
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.error(line, path, "expected a mapping of NAME: default value")
            return {}
        out: dict[str, str] = {}
        for name, value in raw.items():
            where = self.lines.get((*path, name), line)
            if not VAR_NAME.match(name):
                self.error(
                    where, (*path, name), f"'{name}' is not a variable name",
                    "Use letters, digits and '_', not starting with a digit",
                )
            elif isinstance(value, bool):
                out[name] = "true" if value else "false"
            elif isinstance(value, str | int | float):
                out[name] = str(value)
            elif value is None:
                out[name] = ""
            else:
                self.error(where, (*path, name), "a variable's value must be a single value")
        return out

    def convert(self, node: Node, path: Path, *, substitute: bool = True) -> Any:
        self.budget -= 1
        if self.budget < 0:
            if self.budget == -1:
                self.error(
                    node.start_mark.line + 1, path,
                    f"document has more than {MAX_NODES} values (alias bomb?)",
                )
            return None
        if isinstance(node, ScalarNode):
            return self._scalar(node, path, substitute=substitute)
        if id(node) in self.active:
            self.error(node.start_mark.line + 1, path, "an alias refers to itself (a cycle)")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return self._sequence(node, path, substitute=substitute)
            if isinstance(node, MappingNode):
                return self._mapping(node, path, substitute=substitute)
        finally:
            self.active.discard(id(node))
        return None  # pragma: no cover - the composer yields only the three kinds

    def _bad_tag(self, node: Node, path: Path) -> None:
        tag = node.tag.replace(_TAG, "!!")
        self.error(
            node.start_mark.line + 1, path,
            f"YAML tag '{tag}' is not allowed",
            "Scenario files are plain YAML: remove the tag",
        )

    def _scalar(self, node: ScalarNode, path: Path, *, substitute: bool) -> Any:
        tag = node.tag
        if tag in _CONSTRUCTED and not (tag != f"{_TAG}null" and ":" in node.value):
            try:
                return self.constructor.construct_object(node, deep=True)
            except (yaml.YAMLError, ValueError, OverflowError):
                return node.value
        if tag in _CONSTRUCTED or tag in _AS_TEXT:
            # Sexagesimal ints (YAML 1.1) would turn '1:2:3:4:5:6:7:8' into a number.
            return self._text(node.value, node, path) if substitute else node.value
        self._bad_tag(node, path)
        return None

    def _text(self, value: str, node: Node, path: Path) -> str:
        assert self.subst is not None
        try:
            return self.subst.substitute(value)
        except VariableProblem as problem:
            self.error(node.start_mark.line + 1, path, problem.message, problem.hint)
            return value

    def _sequence(self, node: SequenceNode, path: Path, *, substitute: bool) -> Any:
        if node.tag != f"{_TAG}seq":
            self._bad_tag(node, path)
            return None
        items: list[Any] = []
        for index, item in enumerate(node.value):
            item_path = (*path, index)
            self.lines[item_path] = item.start_mark.line + 1
            items.append(self.convert(item, item_path, substitute=substitute))
        return items

    def _mapping(self, node: MappingNode, path: Path, *, substitute: bool) -> Any:
        if node.tag != f"{_TAG}map":
            self._bad_tag(node, path)
            return None
        try:
            pairs, merged = _flatten(node, ())
        except _MergeProblem as exc:
            self.error(exc.line, path, f"bad merge key: {exc.message}", exc.hint)
            return None
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for index, (key_node, value_node) in enumerate(pairs):
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                self.error(line, path, "a key must be a plain word, not a list or mapping")
                continue
            if key_node.tag not in _CONSTRUCTED and key_node.tag not in _AS_TEXT:
                self._bad_tag(key_node, path)
                continue
            # The text as written: `100:` is the key "100", `on:` is "on", not True.
            key = key_node.value
            if substitute:
                key = self._text(key, key_node, path)
            key_path = (*path, key)
            # A key that came from a merge may be overridden (_flatten kept only the winning
            # merged pair); a key the user wrote twice may not.
            if key in first_line and first_line[key] > 0:
                self.error(
                    line, key_path, f"duplicate key '{key}' (first at line {first_line[key]})",
                    "YAML keeps only one of them: remove or rename the other",
                )
                continue
            # Merged keys may be overridden once by the mapping's own keys, silently.
            first_line[key] = line if index >= merged else 0
            self.lines[key_path] = line
            # Defaults are taken as written: they are the values substitution uses.
            literal = not path and key == "variables"
            out[key] = self.convert(value_node, key_path, substitute=substitute and not literal)
        return out


class _MergeProblem(Exception):
    def __init__(self, line: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.line, self.message, self.hint = line, message, hint


def _flatten(node: MappingNode, stack: tuple[int, ...]) -> tuple[list[tuple[Node, Node]], int]:
    """The pairs of `node` with its `<<` merge keys applied, merged pairs first; and how many
    of them came from merges.

    Done here rather than by PyYAML's `flatten_mapping`, whose precedence between the maps of
    `<<: [*a, *b]` changed in PyYAML 6.0.3: the merge-key spec (yaml.org/type/merge.html) says
    the mapping's own keys win, then the maps in the order listed, so a key of `*a` beats the
    same key of `*b`. The node graph is left untouched (anchors share nodes).
    """
    merge_tag = f"{_TAG}merge"
    own = [(k, v) for k, v in node.value if k.tag != merge_tag]
    sources: list[MappingNode] = []
    for key_node, value_node in node.value:
        if key_node.tag != merge_tag:
            continue
        line = key_node.start_mark.line + 1
        items = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for item in items:
            if not isinstance(item, MappingNode):
                raise _MergeProblem(
                    line, f"expected a mapping or a list of mappings, found a {item.id}",
                    "write `<<: *anchor` or `<<: [*a, *b]` with anchors of mappings",
                )
            if id(item) in (*stack, id(node)):
                raise _MergeProblem(line, "a mapping merges itself", "remove the `<<` cycle")
            sources.append(item)
    seen = {k.value for k, _ in own if isinstance(k, ScalarNode)}
    merged: list[tuple[Node, Node]] = []
    for source in sources:
        pairs, _ = _flatten(source, (*stack, id(node)))
        for key_node, value_node in pairs:
            key = key_node.value if isinstance(key_node, ScalarNode) else id(key_node)
            if key in seen:
                continue  # an earlier map, or the mapping itself, already gave this key
            seen.add(key)
            merged.append((key_node, value_node))
    return merged + own, len(merged)
