"""The benchmark's Drive-like dataset: deterministic tuples, the model in two languages, a sampled
check mix and the users ListObjects is timed for.

Shape at ``scale=1.0`` (every count scales linearly, at least one of each):

- 10,000 users; 1,000 groups in three layers (``group:g*`` members are users and, for the two
  upper layers, the groups of the layer below, so memberships nest up to three groups deep);
- 5,000 folders in a five-level tree (one parent each, below the roots), each with an owner, a
  viewer (a user or a group) and, for half of them, an editor;
- 100,000 documents, each in one folder, with an owner, a viewer (a user, or a group for one in
  five) and, for one in five, an editor.

That is about 360,000 tuples. ``viewer`` on a document or folder is: a direct viewer, or an editor
(direct or the owner), or a viewer of the parent folder; groups grant through ``group#member``.

Everything derives from one seeded :class:`random.Random`, so two calls with the same scale and
seed return identical datasets. :class:`Oracle` is the second evaluation every engine's sampled
decision is compared with: a direct, engine-independent walk of the same data (principals of the
user, then the object and its folder chain).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import msgspec

from permsvc.core.refs import TupleKey

__all__ = (
    "DSL",
    "SPICEDB_PERMISSION",
    "SPICEDB_SCHEMA",
    "DriveDataset",
    "DriveShape",
    "Oracle",
    "ProbeUser",
    "SampledCheck",
    "build_dataset",
    "distinct_checks",
    "drive_tuples",
)

DSL = (Path(__file__).resolve().parents[1] / "schema" / "bench-drive.fga").read_text()
"""The OpenFGA model (DSL) every permsvc and fga measurement uses."""

SPICEDB_SCHEMA = """\
definition user {}

definition group {
    relation member: user | group#member
}

definition folder {
    relation parent: folder
    relation owner: user
    relation editor: user | group#member
    relation viewer: user | group#member
    permission edit = editor + owner
    permission view = viewer + edit + parent->view
}

definition document {
    relation parent: folder
    relation owner: user
    relation editor: user | group#member
    relation viewer: user | group#member
    permission edit = editor + owner
    permission view = viewer + edit + parent->view
}
"""
"""The same model in SpiceDB's schema language. SpiceDB keeps relations (stored) and permissions
(computed) apart, so the computed ``viewer``/``editor`` of the OpenFGA model are ``view``/``edit``
here; :data:`SPICEDB_PERMISSION` maps the names."""

SPICEDB_PERMISSION = {"viewer": "view", "editor": "edit"}

_BASE_USERS = 10_000
_BASE_GROUPS = 1_000
_BASE_FOLDERS = 5_000
_BASE_DOCUMENTS = 100_000
_GROUP_LAYERS = (0.75, 0.20, 0.05)
"""Share of groups in each layer: users only; users and layer-0 groups; users and layer-1 groups."""
_FOLDER_LEVELS = (0.002, 0.008, 0.04, 0.19, 0.76)
"""Share of folders at each depth of the tree (roots first)."""
_USERS_PER_GROUP = 20
_SUBGROUPS_PER_GROUP = 2
_LIST_TARGETS = (10, 700, 7_000)
"""Accessible documents of the ListObjects users at scale 1.0 (scaled down with the dataset)."""
_PROBE_CANDIDATES = 800
_TUPLES_AT_SCALE_1 = 358_120


class DriveShape(msgspec.Struct, frozen=True, kw_only=True):
    """Entity counts of one dataset."""

    users: int
    groups: int
    folders: int
    documents: int

    @classmethod
    def at(cls, scale: float) -> DriveShape:
        def n(base: int) -> int:
            return max(round(base * scale), 1)

        return cls(
            users=n(_BASE_USERS),
            groups=n(_BASE_GROUPS),
            folders=n(_BASE_FOLDERS),
            documents=n(_BASE_DOCUMENTS),
        )


class SampledCheck(msgspec.Struct, frozen=True, kw_only=True):
    """One check of the mix with the oracle's answer."""

    object: str
    relation: str
    user: str
    expected: bool


class ProbeUser(msgspec.Struct, frozen=True, kw_only=True):
    """A user ListObjects(document, viewer) is timed for: ``accessible`` documents (the oracle's
    count) chosen as the closest to ``target``."""

    user: str
    target: int
    accessible: int


class DriveDataset(msgspec.Struct, frozen=True, kw_only=True):
    """One generated dataset: tuples in generation order, the check mix and the probe users."""

    scale: float
    seed: int
    shape: DriveShape
    tuples: list[TupleKey]
    checks: list[SampledCheck]
    probes: list[ProbeUser]

    @property
    def allowed_share(self) -> float:
        return sum(c.expected for c in self.checks) / max(len(self.checks), 1)


class Oracle:
    """The second evaluation: the model's semantics written out for this dataset's shape.

    ``viewer(o)`` holds for a user when one of the user's principals (the user and every group it
    is a member of, transitively) is a viewer, editor or owner of ``o`` or of a folder above it;
    ``editor(o)`` when one is an editor or owner of ``o`` itself.
    """

    def __init__(self, tuples: list[TupleKey]) -> None:
        self._parent: dict[str, str] = {}
        self._grants: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._groups_of: dict[str, set[str]] = defaultdict(set)
        """Direct memberships: member (``user:x`` or ``group:g#member``) -> groups."""
        self._children: dict[str, list[str]] = defaultdict(list)
        self._documents_in: dict[str, list[str]] = defaultdict(list)
        self._granted: dict[str, set[str]] = defaultdict(set)
        """Principal -> objects it is a viewer, editor or owner of."""
        self.documents: list[str] = []
        self.folders: list[str] = []
        self.users: list[str] = []
        users: set[str] = set()
        for t in tuples:
            if t.relation == "parent":
                self._parent[t.object] = t.user
                self._children[t.user].append(t.object)
                if t.object.startswith("document:"):
                    self._documents_in[t.user].append(t.object)
            elif t.relation == "member":
                self._groups_of[t.user].add(t.object)
            else:
                self._grants[t.object][t.relation].add(t.user)
                self._granted[t.user].add(t.object)
            for ref in (t.object, t.user):
                if ref.startswith("user:"):
                    users.add(ref)
        objects = {t.object for t in tuples}
        self.documents = sorted(o for o in objects if o.startswith("document:"))
        self.folders = sorted(o for o in objects if o.startswith("folder:"))
        self.users = sorted(users)
        self._principals: dict[str, frozenset[str]] = {}
        self._members: dict[str, list[str]] | None = None

    def principals(self, user: str) -> frozenset[str]:
        """``user`` and ``group:g#member`` for every group it belongs to, transitively."""
        known = self._principals.get(user)
        if known is not None:
            return known
        out = {user}
        frontier = [user]
        while frontier:
            member = frontier.pop()
            for group in self._groups_of.get(member, ()):
                userset = f"{group}#member"
                if userset not in out:
                    out.add(userset)
                    frontier.append(userset)
        result = self._principals[user] = frozenset(out)
        return result

    def chain(self, obj: str) -> Iterator[str]:
        """``obj`` and its folders up to the root."""
        while obj:
            yield obj
            obj = self._parent.get(obj, "")

    def grants(self, obj: str, relation: str) -> set[str]:
        """Principals that directly hold ``relation`` (a stored relation) on ``obj``."""
        return self._grants.get(obj, {}).get(relation, set())

    def holders(self, obj: str, relation: str) -> set[str]:
        """Principals granting ``relation`` on ``obj`` without inheritance: for ``viewer`` the
        viewers, editors and owners; for ``editor`` the editors and owners."""
        names = ("viewer", "editor", "owner") if relation == "viewer" else ("editor", "owner")
        out: set[str] = set()
        for name in names:
            out |= self.grants(obj, name)
        return out

    def check(self, user: str, relation: str, obj: str) -> bool:
        """The expected answer of ``Check(obj#relation@user)`` (relation ``viewer`` or ``editor``)."""
        principals = self.principals(user)
        if relation == "editor":
            return not principals.isdisjoint(self.holders(obj, "editor"))
        return any(not principals.isdisjoint(self.holders(o, "viewer")) for o in self.chain(obj))

    def members(self, group: str) -> list[str]:
        """The users of ``group`` (transitively), sorted."""
        if self._members is None:
            members: dict[str, list[str]] = defaultdict(list)
            for user in self.users:
                for principal in self.principals(user):
                    if principal != user:
                        members[principal.partition("#")[0]].append(user)
            self._members = members
        return self._members.get(group, [])

    def viewable_documents(self, user: str) -> set[str]:
        """Every document ``user`` is a viewer of: the expected ListObjects answer."""
        out: set[str] = set()
        folders: list[str] = []
        for principal in self.principals(user):
            for obj in self._granted.get(principal, ()):
                if obj.startswith("document:"):
                    out.add(obj)
                else:
                    folders.append(obj)
        seen: set[str] = set()
        while folders:
            folder = folders.pop()
            if folder in seen:
                continue
            seen.add(folder)
            out.update(self._documents_in.get(folder, ()))
            folders.extend(f for f in self._children.get(folder, ()) if f.startswith("folder:"))
        return out


def _split(prefix: str, total: int, shares: tuple[float, ...]) -> list[list[str]]:
    """``total`` numbered names in consecutive layers of the given shares (the last takes the rest)."""
    layers: list[list[str]] = []
    start = 0
    for k, share in enumerate(shares):
        size = total - start if k == len(shares) - 1 else max(round(total * share), 1)
        size = max(min(size, total - start), 0)
        layers.append([f"{prefix}{i}" for i in range(start, start + size)])
        start += size
    return layers


def _generate_tuples(shape: DriveShape, rng: random.Random) -> list[TupleKey]:
    out: list[TupleKey] = []
    seen: set[tuple[str, str, str]] = set()

    def add(obj: str, relation: str, user: str) -> None:
        if (obj, relation, user) not in seen:
            seen.add((obj, relation, user))
            out.append(TupleKey(object=obj, relation=relation, user=user))

    def user() -> str:
        return f"user:u{rng.randrange(shape.users)}"

    layers = _split("group:g", shape.groups, _GROUP_LAYERS)
    all_groups = [g for layer in layers for g in layer]
    for k, layer in enumerate(layers):
        for group in layer:
            for _ in range(_USERS_PER_GROUP):
                add(group, "member", user())
            if k and layers[k - 1]:
                for _ in range(_SUBGROUPS_PER_GROUP):
                    add(group, "member", f"{rng.choice(layers[k - 1])}#member")

    def principal(group_share: float) -> str:
        if all_groups and rng.random() < group_share:
            return f"{rng.choice(all_groups)}#member"
        return user()

    levels = _split("folder:f", shape.folders, _FOLDER_LEVELS)
    folders = [f for level in levels for f in level]
    for k, level in enumerate(levels):
        above = next((levels[j] for j in range(k - 1, -1, -1) if levels[j]), None)
        for folder in level:
            if k and above:
                add(folder, "parent", rng.choice(above))
            add(folder, "owner", user())
            add(folder, "viewer", principal(0.5))
            if rng.random() < 0.5:
                add(folder, "editor", principal(0.5))
    for i in range(shape.documents):
        doc = f"document:d{i}"
        add(doc, "parent", rng.choice(folders))
        add(doc, "owner", user())
        add(doc, "viewer", principal(0.2))
        if rng.random() < 0.2:
            add(doc, "editor", principal(0.2))
    return out


def _sample_checks(oracle: Oracle, rng: random.Random, n: int) -> list[SampledCheck]:
    """``n`` checks, half allowed: allowed ones follow a real grant (direct, through a group, or
    inherited from a folder) down to a user; denied ones are random pairs the oracle refuses.
    Relations: document viewer (80%), document editor (10%), folder viewer (10%)."""
    checks: list[SampledCheck] = []
    docs, folders = oracle.documents, oracle.folders
    while len(checks) < n:
        roll = rng.random()
        relation, pool = (
            ("editor", docs)
            if roll < 0.1
            else (("viewer", folders) if roll < 0.2 else ("viewer", docs))
        )
        obj = rng.choice(pool)
        if len(checks) % 2 == 0:
            via = rng.choice(list(oracle.chain(obj))) if relation == "viewer" else obj
            holders = sorted(oracle.holders(via, relation))
            if not holders:
                continue
            principal = rng.choice(holders)
            if principal.startswith("group:"):
                members = oracle.members(principal.partition("#")[0])
                if not members:
                    continue
                principal = rng.choice(members)
            user, expected = principal, True
        else:
            user = rng.choice(oracle.users)
            expected = False
            if oracle.check(user, relation, obj):
                continue
        if oracle.check(user, relation, obj) != expected:
            raise AssertionError(
                f"sampled check {obj}#{relation}@{user} is not {expected} by the oracle"
            )
        checks.append(SampledCheck(object=obj, relation=relation, user=user, expected=expected))
    return checks


def _probe_users(oracle: Oracle, rng: random.Random, scale: float) -> list[ProbeUser]:
    """For each target, the candidate user whose accessible-document count is closest to it
    (in ratio), among a seeded sample of users."""
    candidates = (
        oracle.users
        if len(oracle.users) <= _PROBE_CANDIDATES
        else rng.sample(oracle.users, _PROBE_CANDIDATES)
    )
    counts = [(user, len(oracle.viewable_documents(user))) for user in sorted(candidates)]
    probes: list[ProbeUser] = []
    used: set[str] = set()
    for base in _LIST_TARGETS:
        target = max(round(base * scale), 10) if base > _LIST_TARGETS[0] else base
        user, count = min(
            ((u, c) for u, c in counts if u not in used),
            key=lambda uc: (abs(math.log((uc[1] + 1) / (target + 1))), uc[0]),
        )
        used.add(user)
        probes.append(ProbeUser(user=user, target=target, accessible=count))
    return probes


def distinct_checks(oracle: Oracle, count: int, *, label: str = "load") -> list[SampledCheck]:
    """``count`` more checks of the same mix, all different (a load that never repeats a request,
    so answer caches cannot stand in for evaluation)."""
    rng = random.Random(f"permsvc-drive-{label}")
    out: list[SampledCheck] = []
    seen: set[tuple[str, str, str]] = set()
    while len(out) < count:
        for c in _sample_checks(oracle, rng, count - len(out) + 16):
            if (c.object, c.relation, c.user) not in seen and len(out) < count:
                seen.add((c.object, c.relation, c.user))
                out.append(c)
    return out


def drive_tuples(count: int, *, seed: int = 8) -> list[TupleKey]:
    """The first ``count`` tuples of the dataset scaled up (or down) to hold at least ``count``
    (about 2.8x for a million): the same generator, without checks or oracle."""
    scale = count / _TUPLES_AT_SCALE_1 * 1.02
    while True:
        tuples = _generate_tuples(
            DriveShape.at(scale), random.Random(f"permsvc-drive-tuples-{seed}-{scale}")
        )
        if len(tuples) >= count:
            return tuples[:count]
        scale *= 1.05


def build_dataset(
    scale: float = 1.0, *, seed: int = 8, checks: int = 2_000
) -> tuple[DriveDataset, Oracle]:
    """The dataset at ``scale`` (1.0: ~360k tuples) with ``checks`` sampled checks, and its oracle."""
    shape = DriveShape.at(scale)
    tuples = _generate_tuples(shape, random.Random(f"permsvc-drive-tuples-{seed}-{scale}"))
    oracle = Oracle(tuples)
    sampled = _sample_checks(oracle, random.Random(f"permsvc-drive-checks-{seed}-{scale}"), checks)
    probes = _probe_users(oracle, random.Random(f"permsvc-drive-probes-{seed}-{scale}"), scale)
    dataset = DriveDataset(
        scale=scale, seed=seed, shape=shape, tuples=tuples, checks=sampled, probes=probes
    )
    return dataset, oracle
