"""Steps (the runbook's and the rollback's), their checklist items, dependencies, and the go/no-go scorecard."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

from yaml.nodes import MappingNode, Node, ScalarNode

from runbooks.loader.matchers import MatchersReader
from runbooks.loader.nodes import Fields, slug, suggest
from runbooks.model import Check, EvidenceItem, Item, Scorecard, ScorecardCategory, Step, StepKind

STEP_KEYS = (
    "id",
    "title",
    "at",
    "duration",
    "owner",
    "kind",
    "phrase",
    "items",
    "evidence",
    "gate",
    "watch",
    "depends_on",
    "notes",
    "expect_silenced",
    "approvers",
)
SCORECARD_KEYS = ("go", "conditional", "categories")
CATEGORY_KEYS = ("id", "title", "weight")
ITEM_KEYS = ("id", "text")
EVIDENCE_ITEM_KEYS = ("id", "text", "required")


class StepsReader(MatchersReader):
    """Reads steps, rollback steps and the scorecard."""

    def steps(
        self,
        top: Fields,
        key: str,
        roles: Mapping[str, str],
        checks: Mapping[str, Check],
        condition_ids: Collection[str],
    ) -> list[tuple[Step, Node, str]]:
        """One list of steps (``steps`` or ``rollback``), with their nodes and paths for later checks."""
        node = top.get(key)
        if node is None:
            return []
        steps: list[tuple[Step, Node, str]] = []
        dependencies: dict[str, list[tuple[str, Node, str]]] = {}
        for index, item in enumerate(self.sequence(node, key, "steps")):
            path = f"{key}[{index}]"
            step, step_dependencies = self.step(item, path, roles, checks, condition_ids)
            dependencies[step.id] = step_dependencies
            steps.append((step, item, path))
        step_ids = [step.id for step, _, _ in steps]
        for deps in dependencies.values():
            for dep, dep_node, dep_path in deps:
                if dep not in step_ids:
                    hint = suggest(dep, step_ids, listing=False) or f"depends_on names steps in the same list ({key})"
                    raise self.error(f"unknown step '{dep}' in depends_on", dep_node, dep_path, hint)
        self.no_cycles(dependencies)
        return steps

    def step(
        self,
        node: Node,
        path: str,
        roles: Mapping[str, str],
        checks: Mapping[str, Check],
        condition_ids: Collection[str],
    ) -> tuple[Step, list[tuple[str, Node, str]]]:
        """A step, and its depends_on entries (checked once the whole list is known)."""
        fields = self.mapping(node, path, STEP_KEYS, required=("title",))
        kind = StepKind(self.optional(fields, "kind", self.one_of([k.value for k in StepKind]), "task"))
        phrase_node = fields.get("phrase")
        if kind is StepKind.APPROVAL and phrase_node is None:
            raise self.error(
                "an approval step needs the 'phrase' to type", node, path, "e.g. phrase: APPROVE PROD DEPLOY"
            )
        if kind is not StepKind.APPROVAL and phrase_node is not None:
            raise self.error(
                "'phrase' applies to approval steps only", phrase_node, fields.key_path("phrase"), "add kind: approval"
            )
        no_evidence: tuple[bool, tuple[EvidenceItem, ...]] = (False, ())
        evidence_required, evidence = self.optional(fields, "evidence", self.evidence, no_evidence)
        deps_node = fields.get("depends_on")
        dependencies = [] if deps_node is None else self.id_list(deps_node, fields.key_path("depends_on"), "step ids")
        step = Step(
            id=self.derived_id(fields, "title"),
            title=self.text(fields.value("title"), fields.key_path("title")),
            at=self.optional(fields, "at", self.offset, None),
            duration=self.optional(fields, "duration", self.duration, None),
            owner=self.optional(fields, "owner", lambda n, p: self.reference(n, p, roles, "role"), None),
            kind=kind,
            phrase=None if phrase_node is None else self.text(phrase_node, fields.key_path("phrase")),
            items=self.optional(fields, "items", self.items, ()),
            evidence_required=evidence_required,
            evidence=evidence,
            gate=self.optional(fields, "gate", lambda n, p: self.references(n, p, checks, "check"), ()),
            watch=self.optional(
                fields, "watch", lambda n, p: self.references(n, p, condition_ids, "stop condition"), ()
            ),
            depends_on=tuple(dep for dep, _, _ in dependencies),
            notes=self.optional(fields, "notes", self.any_text, ""),
            expect_silenced=self.optional(fields, "expect_silenced", self.matcher_sets, ()),
            approvers=self.approvers(fields, kind),
        )
        return step, dependencies

    def approvers(self, fields: Fields, kind: StepKind) -> int:
        node = fields.get("approvers")
        if node is None:
            return 1
        if kind is not StepKind.APPROVAL:
            raise self.error(
                "'approvers' applies to approval steps only",
                node,
                fields.key_path("approvers"),
                "add kind: approval and a phrase",
            )
        return self.count(node, fields.key_path("approvers"))

    def references(self, node: Node, path: str, known: Collection[str], what: str) -> tuple[str, ...]:
        ids = []
        for value, item, item_path in self.id_list(node, path, f"{what} ids"):
            if value not in known:
                raise self.error(f"unknown {what} '{value}'", item, item_path, suggest(value, known))
            ids.append(value)
        return tuple(ids)

    def items(self, node: Node, path: str, allowed: Collection[str] = ITEM_KEYS) -> tuple[Item, ...]:
        """Checklist items: strings, or ``{id, text}``; ids derived from the text when absent."""
        items: list[Item] = []
        seen: dict[str, str] = {}
        for index, entry in enumerate(self.sequence(node, path, "items")):
            item_path = f"{path}[{index}]"
            if isinstance(entry, MappingNode):
                fields = self.mapping(entry, item_path, allowed, required=("text",))
                text = self.text(fields.value("text"), fields.key_path("text"))
                item_id = self.derived_id(fields, "text")
            else:
                text = self.text(entry, item_path)
                item_id = slug(text) or str(index + 1)
            if item_id in seen:
                raise self.error(
                    f"duplicate item id '{item_id}' (also {seen[item_id]})",
                    entry,
                    item_path,
                    "give one an explicit id: {id: ..., text: ...}",
                )
            seen[item_id] = item_path
            items.append(Item(id=item_id, text=text))
        return tuple(items)

    def evidence(self, node: Node, path: str) -> tuple[bool, tuple[EvidenceItem, ...]]:
        """``required`` / ``optional`` (one answer), or named items: each required one is answered on its own.

        An item is a string (required) or ``{id, text, required: false}``.
        """
        if isinstance(node, ScalarNode):
            return self.choice(node, path, ("required", "optional")) == "required", ()
        named = self.items(node, path, EVIDENCE_ITEM_KEYS)
        required = []
        for index, entry in enumerate(self.sequence(node, path, "items")):
            if isinstance(entry, MappingNode):
                fields = self.mapping(entry, f"{path}[{index}]", EVIDENCE_ITEM_KEYS)
                required.append(self.optional(fields, "required", self.boolean, True))
            else:
                required.append(True)
        items = tuple(EvidenceItem(item.id, item.text, needed) for item, needed in zip(named, required, strict=True))
        return any(required), items

    def unique_ids(self, steps: list[tuple[Step, Node, str]], what: str) -> None:
        seen: dict[str, str] = {}
        for step, node, path in steps:
            if step.id in seen:
                raise self.error(
                    f"duplicate {what} id '{step.id}': {seen[step.id]} has it too",
                    node,
                    path,
                    "ids are derived from titles when absent; give one of them an explicit id",
                )
            seen[step.id] = f"{path} (line {node.start_mark.line + 1})"

    def no_cycles(self, dependencies: Mapping[str, list[tuple[str, Node, str]]]) -> None:
        """Depth-first search; a cycle is reported as ``a -> b -> a`` at its first dependency."""
        done: set[str] = set()
        for start in dependencies:
            stack: list[tuple[str, int]] = [(start, 0)]
            trail: list[str] = [start]
            while stack:
                current, position = stack[-1]
                deps = dependencies.get(current, [])
                if current in done or position >= len(deps):
                    done.add(current)
                    stack.pop()
                    trail.pop()
                    continue
                stack[-1] = (current, position + 1)
                dep, dep_node, dep_path = deps[position]
                if dep in trail:
                    cycle = " -> ".join([*trail[trail.index(dep) :], dep])
                    raise self.error(f"depends_on forms a cycle: {cycle}", dep_node, dep_path)
                if dep not in done:
                    stack.append((dep, 0))
                    trail.append(dep)

    def scorecard(self, node: Node, path: str) -> Scorecard:
        fields = self.mapping(node, path, SCORECARD_KEYS, required=("categories",))
        go = self.optional(fields, "go", self.percent, 90.0)
        conditional = self.optional(fields, "conditional", self.percent, 80.0)
        if conditional > go:
            raise self.error(
                f"conditional ({conditional:g}) must not be above go ({go:g})",
                fields.get("conditional") or node,
                fields.key_path("conditional"),
            )
        categories_node = fields.value("categories")
        categories: list[ScorecardCategory] = []
        for index, item in enumerate(self.sequence(categories_node, fields.key_path("categories"), "categories")):
            item_path = f"{fields.key_path('categories')}[{index}]"
            category = self.mapping(item, item_path, CATEGORY_KEYS, required=("title", "weight"))
            category_id = self.derived_id(category, "title")
            if any(c.id == category_id for c in categories):
                raise self.error(f"duplicate category id '{category_id}'", item, item_path)
            categories.append(
                ScorecardCategory(
                    id=category_id,
                    title=self.text(category.value("title"), category.key_path("title")),
                    weight=self.percent(category.value("weight"), category.key_path("weight")),
                )
            )
        total = sum(c.weight for c in categories)
        if not math.isclose(total, 100.0, abs_tol=1e-6):
            raise self.error(
                f"scorecard weights sum to {total:g}, not 100", categories_node, fields.key_path("categories")
            )
        return Scorecard(categories=tuple(categories), go=go, conditional=conditional)

    def percent(self, node: Node, path: str) -> float:
        value = self.number(node, path)
        if not 0 <= value <= 100:
            raise self.error(f"expected 0 to 100, got {value:g}", node, path)
        return value
