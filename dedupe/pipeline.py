"""The batch stages both engines share, as plain functions: the local engine (``Detector.scan``)
and the Spark engine call the same rules, so that their reports agree by construction.
"""

from __future__ import annotations

from collections.abc import Container, Mapping


def version_names(versions: Mapping[str, int], taken: Container[str]) -> dict[str, list[str]]:
    """The names of the stories that share an id, for each id held by several: the first keeps
    the id, the others become ``id~2``, ``id~3``, ... skipping any name already ``taken`` by a
    story of the corpus, so that a renamed story never lands on another's id.

    Callers give the stories of one id these names in the order of their records' digests, so the
    names do not depend on the order in which the stories were read.
    """
    names: dict[str, list[str]] = {}
    for story_id in sorted(versions):
        listed = [story_id]
        number = 1
        while len(listed) < versions[story_id]:
            number += 1
            name = f"{story_id}~{number}"
            if name not in taken:
                listed.append(name)
        names[story_id] = listed
    return names
