"""Hypothesis strategies that write OpenFGA DSL models from the whole syntax, for property and
differential tests: restrictions of every form, nested operators, ``from``, conditions with
every parameter type, comments and unusual blanks, plus random mutations of such models."""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = ("model", "mutated_model")

TYPES = ["user", "group", "doc", "folder", "team.sub", "org-unit", "model", "schema"]
RELATIONS = ["viewer", "editor", "owner", "parent", "member", "can_view", "relation"]
CONDITIONS = ["c1", "in_range", "is-open"]
SCALARS = ["bool", "string", "int", "uint", "double", "duration", "timestamp", "ipaddress"]

blank = st.sampled_from([" ", " ", " ", "  ", "\t"])
name_of = st.sampled_from


@st.composite
def restriction(draw: st.DrawFn) -> str:
    base = draw(name_of(TYPES))
    form = draw(st.integers(0, 2))
    if form == 1:
        base += "#" + draw(name_of(RELATIONS))
    elif form == 2:
        base += ":*"
    if draw(st.booleans()) and draw(st.booleans()):
        base += " with " + draw(name_of(CONDITIONS))
    return base


@st.composite
def direct(draw: st.DrawFn) -> str:
    items = draw(st.lists(restriction(), min_size=1, max_size=4))
    sep = draw(st.sampled_from([", ", ",", " , ", ",\n        "]))
    return "[" + sep.join(items) + "]"


@st.composite
def operand(draw: st.DrawFn, depth: int) -> str:
    if depth > 0 and draw(st.integers(0, 3)) == 0:
        return "(" + draw(expression(depth - 1, allow_direct=False)) + ")"
    rel = draw(name_of(RELATIONS))
    if draw(st.booleans()):
        return f"{rel} from {draw(name_of(RELATIONS))}"
    return rel


@st.composite
def expression(draw: st.DrawFn, depth: int = 2, *, allow_direct: bool = True) -> str:
    first = draw(direct()) if allow_direct and draw(st.booleans()) else draw(operand(depth))
    if allow_direct and depth > 0 and draw(st.integers(0, 5)) == 0:
        first = "(" + draw(expression(depth - 1)) + ")"
    op = draw(st.sampled_from([None, "or", "and", "but not", "mixed"]))
    if op is None:
        return first
    if op == "mixed":
        return f"{first} or {draw(operand(depth))} and {draw(operand(depth))}"
    count = 1 if op == "but not" else draw(st.integers(1, 3))
    rest = [draw(operand(depth)) for _ in range(count)]
    return first + "".join(f" {op} {r}" for r in rest)


@st.composite
def condition(draw: st.DrawFn, cname: str) -> str:
    params = draw(
        st.lists(st.sampled_from(["x", "y", "z_1", "p-q"]), min_size=1, max_size=3, unique=True)
    )
    typed = []
    for p in params:
        t = draw(name_of(SCALARS))
        if draw(st.integers(0, 3)) == 0:
            t = f"{draw(name_of(['map', 'list']))}<{t}>"
        typed.append(f"{p}: {t}")
    body = draw(
        st.sampled_from(
            [
                "true",
                "x == 1",
                'x != "}"',
                "x < 10 &&\n    y > 0",
                "x // comment }\n  && y",
                "x  ",
                "'a' == '''b'''",
            ]
        )
    )
    return f"condition {cname}({', '.join(typed)}) {{\n  {body}\n}}\n"


@st.composite
def model(draw: st.DrawFn) -> str:
    lines = [draw(st.sampled_from(["", "# header\n", "\n"])) + "model", "  schema 1.1"]
    for tname in draw(st.lists(name_of(TYPES), min_size=1, max_size=4, unique=True)):
        lines.append(draw(st.sampled_from(["", "", "# a type\n"])) + f"type {tname}")
        rels = draw(st.lists(name_of(RELATIONS), max_size=4, unique=True))
        if rels:
            lines.append("  relations")
            for rname in rels:
                colon = draw(st.sampled_from([": ", ":", " : ", ":  "]))
                trailer = draw(st.sampled_from(["", "", " # note", draw(blank) + "# note"]))
                lines.append(f"    define {rname}{colon}{draw(expression())}{trailer}")
    text = "\n".join(lines) + "\n"
    for cname in draw(st.lists(name_of(CONDITIONS), max_size=2, unique=True)):
        text += "\n" + draw(condition(cname))
    return text


_NOISE = [
    " ",
    "\n",
    "\t",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "#",
    "*",
    "or ",
    " and",
    "but not",
    "from",
    "with",
    "define",
    "type",
    "relations",
    "condition",
    "{",
    "}",
    "<",
    ">",
    "x",
    ".",
    "-",
    "1.1",
    '"',
]


@st.composite
def mutated_model(draw: st.DrawFn) -> str:
    text = draw(model())
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        match draw(st.integers(0, 2)):
            case 0:
                text = text[:at] + draw(st.sampled_from(_NOISE)) + text[at:]
            case 1:
                text = text[:at] + text[at + draw(st.integers(1, 4)) :]
            case _:
                end = min(len(text), at + draw(st.integers(1, 12)))
                text = text[:at] + text[at:end] + text[at:]
    return text
