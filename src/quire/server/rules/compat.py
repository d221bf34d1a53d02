"""Whether records of one dataset can be copied into another (`add_to_dataset`), checked when the
rule is created or its actions change, so runs do not fail on it later.

- Same workspace, another dataset, published.
- Fields: every field the target requires exists in the source; every field both have is of the
  same type. Source fields the target lacks are left out of the copies.
- Metadata: a property both have is of the same type (terms: the target allows every value the
  source allows). Values of properties the target lacks are copied only if it allows extra metadata.
- Suggestions (when copied): a question both have is of the same type, and the target offers every
  option the source does. Suggestions for questions the target lacks are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quire.server.errors import Invalid
from quire.server.models import Dataset, DatasetStatus

_OPTION_QUESTIONS = frozenset({"label_selection", "multi_label_selection", "ranking", "span", "rating"})


def _options(settings: Mapping[str, Any]) -> set[Any]:
    return {o.get("value") for o in settings.get("options") or [] if isinstance(o, Mapping)}


def check_copy_target(source: Dataset, target: Dataset, *, include_suggestions: bool) -> None:
    """Raise a 422 naming the first incompatibility (both datasets loaded with their settings)."""
    where = f"add_to_dataset: dataset {target.name!r}"
    if target.id == source.id:
        raise Invalid("add_to_dataset: the target must be another dataset than the rule's")
    if target.workspace_id != source.workspace_id:
        raise Invalid(f"{where} is not in the workspace of the rule's dataset")
    if target.status != DatasetStatus.ready:
        raise Invalid(f"{where} is not published")
    source_fields = {f.name: f.settings.get("type") for f in source.fields}
    for field in target.fields:
        kind = field.settings.get("type")
        if field.name not in source_fields:
            if field.required:
                raise Invalid(f"{where} requires field {field.name!r}, which {source.name!r} does not have")
        elif source_fields[field.name] != kind:
            raise Invalid(
                f"{where}: field {field.name!r} is {kind} there but {source_fields[field.name]} in {source.name!r}"
            )
    source_metadata = {m.name: m.settings for m in source.metadata_properties}
    for prop in target.metadata_properties:
        theirs = source_metadata.get(prop.name)
        if theirs is None:
            continue
        if theirs.get("type") != prop.settings.get("type"):
            raise Invalid(
                f"{where}: metadata property {prop.name!r} is {prop.settings.get('type')} there "
                f"but {theirs.get('type')} in {source.name!r}"
            )
        allowed = prop.settings.get("values")
        if prop.settings.get("type") == "terms" and allowed is not None:
            missing = set(theirs.get("values") or []) - set(allowed)
            if theirs.get("values") is None or missing:
                raise Invalid(
                    f"{where}: metadata property {prop.name!r} does not allow every value {source.name!r} allows"
                    + (f" (missing {sorted(missing)})" if missing else "")
                )
    if include_suggestions:
        source_questions = {q.name: q.settings for q in source.questions}
        for question in target.questions:
            theirs = source_questions.get(question.name)
            if theirs is None:
                continue
            kind = question.settings.get("type")
            if theirs.get("type") != kind:
                raise Invalid(
                    f"{where}: question {question.name!r} is {kind} there but {theirs.get('type')} in {source.name!r}"
                )
            if kind in _OPTION_QUESTIONS:
                missing = _options(theirs) - _options(question.settings)
                if missing:
                    raise Invalid(
                        f"{where}: question {question.name!r} lacks options {sorted(map(str, missing))} "
                        f"that {source.name!r} has"
                    )
            if kind == "span" and question.settings.get("field") != theirs.get("field"):
                raise Invalid(f"{where}: span question {question.name!r} is on another field there")
