"""Audit summaries refer to people by id; names are found when the audit log is read (docs/adr/0032-audit-refers-to-
people-by-id.md). Audit events are append-only, so a name written into one could never be erased: a writer puts
`person_ref("child", child.pk)` ("{child:12}") in the summary instead, and a reader shows `render_summaries(...)`,
where each reference becomes the person's name now, or "erased child #12" once they are erased (or gone).

Core cannot know the apps above it: each app that owns people registers how to name them (`register_person_names`),
as care does for children."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

_REF_RE = re.compile(r"\{([a-z_]+):([0-9]{1,18})\}")

# kind -> a function from ids to {id: name} for the people it may still name (an erased person is left out)
_RESOLVERS: dict[str, Callable[[set[int]], dict[int, str]]] = {}


def person_ref(kind: str, pk: int) -> str:
    """The reference an audit summary holds instead of a person's name, e.g. "{child:12}"."""
    return f"{{{kind}:{int(pk)}}}"


def register_person_names(kind: str, resolver: Callable[[set[int]], dict[int, str]]) -> None:
    """`resolver(ids)` answers {id: name} for the people of `kind` it may still name; the others read as erased."""
    _RESOLVERS[kind] = resolver


def render_summaries(summaries: Iterable[str]) -> list[str]:
    """Each summary with its person references replaced by names (one lookup per kind for all of them)."""
    texts = list(summaries)
    wanted: dict[str, set[int]] = {}
    for text in texts:
        for kind, pk in _REF_RE.findall(text):
            wanted.setdefault(kind, set()).add(int(pk))
    names: dict[str, dict[int, str]] = {}
    for kind, ids in wanted.items():
        resolver = _RESOLVERS.get(kind)
        names[kind] = resolver(ids) if resolver is not None else {}

    def name(match: re.Match[str]) -> str:
        kind, pk = match.group(1), int(match.group(2))
        if kind not in _RESOLVERS:
            return f"{kind} #{pk}"
        found = names[kind].get(pk)
        return found if found is not None else f"erased {kind} #{pk}"

    return [_REF_RE.sub(name, text) if "{" in text else text for text in texts]


def render_summary(summary: str) -> str:
    return render_summaries([summary])[0]
