"""A model -> the OpenFGA DSL, in the canonical layout ``fga model transform`` prints.

Layout: ``model`` / ``  schema X``, then each type after a blank line with ``  relations`` and
``    define name: ...`` lines, then each condition after a blank line with its expression
indented by two spaces. In a rewrite, operands that are themselves ``or``/``and``/``but not``
are parenthesised, and in ``or``/``and`` the direct type restriction ``[...]`` is moved first
(the only place the grammar allows it), as OpenFGA's printer does. Elements of a modular
model carry ``# module: ..., file: ...`` comments, as OpenFGA writes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from permsvc.model.schema import (
    CONDITION_TYPE_NAMES,
    ComputedUserset,
    Difference,
    Intersection,
    This,
    TupleToUserset,
    Union,
)

if TYPE_CHECKING:
    from permsvc.model.schema import (
        AuthorizationModel,
        Condition,
        ConditionParam,
        RelationReference,
        Rewrite,
    )

__all__ = ("print_dsl", "print_rewrite")

_PARAM_NAMES = {v: k for k, v in CONDITION_TYPE_NAMES.items()}


def _source_comment(module: str, file: str) -> str:
    if not module and not file:
        return ""
    return f" # module: {module}, file: {file}"


def print_rewrite(
    rw: Rewrite,
    directly_related: tuple[RelationReference, ...] = (),
    *,
    direct: str | None = None,
    in_order: bool = False,
) -> str:
    """One relation definition (the text after ``define name:``).

    ``direct`` replaces the direct type restriction ``[...]`` built from ``directly_related``;
    ``in_order`` keeps the operands of ``or``/``and`` in the model's order instead of moving
    ``[...]`` first (where the grammar wants it).
    """
    restriction = (
        "[" + ", ".join(str(r) for r in directly_related) + "]" if direct is None else direct
    )

    def text(node: Rewrite, nested: bool) -> str:
        match node:
            case This():
                return restriction
            case ComputedUserset(relation=rel):
                return rel
            case TupleToUserset(tupleset=ts, computed_relation=cr):
                return f"{cr} from {ts}"
            case Union(children=children) | Intersection(children=children):
                word = " or " if isinstance(node, Union) else " and "
                ordered = (
                    list(children)
                    if in_order
                    else [c for c in children if isinstance(c, This)]
                    + [c for c in children if not isinstance(c, This)]
                )
                out = word.join(text(c, True) for c in ordered)
            case Difference(base=base, subtract=subtract):
                out = f"{text(base, True)} but not {text(subtract, True)}"
            case _:
                raise TypeError(f"not a rewrite: {node!r}")
        return f"({out})" if nested else out

    return text(rw, False)


def _param_type(p: ConditionParam) -> str:
    name = _PARAM_NAMES.get(p.type_name, p.type_name)
    if p.generic_types:
        return f"{name}<{', '.join(_param_type(g) for g in p.generic_types)}>"
    return name


def _condition(c: Condition) -> list[str]:
    params = ", ".join(f"{name}: {_param_type(p)}" for name, p in c.parameters.items())
    head = f"condition {c.name}({params}) {{"
    tail = "}" + _source_comment(c.module, c.source_file)
    if c.expression[-1:].isspace():
        # Blanks before a line break are not part of an expression when it is read back, so an
        # expression ending in blanks is printed inline: '{ expr }' keeps them.
        return [f"{head} {c.expression}{tail}"]
    return [head, f"  {c.expression}", tail]


def print_dsl(model: AuthorizationModel) -> str:
    """Print the model as DSL text, ending in a newline.

    JSON -> DSL -> JSON gives back the same model, except that ``[...]`` moves to the front of an
    ``or``/``and``.
    """
    lines = ["model", f"  schema {model.schema_version}"]
    for td in model.type_definitions:
        lines.append("")
        lines.append(f"type {td.name}{_source_comment(td.module, td.source_file)}")
        if td.relations:
            lines.append("  relations")
            for name, rd in td.relations.items():
                comment = ""
                if rd.module or rd.source_file:
                    comment = f" # extended by:{_source_comment(rd.module, rd.source_file)[2:]}"
                lines.append(
                    f"    define {name}: {print_rewrite(rd.rewrite, rd.directly_related)}{comment}"
                )
    for c in model.conditions.values():
        lines.append("")
        lines.extend(_condition(c))
    return "\n".join(lines) + "\n"
