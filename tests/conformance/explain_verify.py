"""Re-verifies explanations independently of the evaluator that produced them.

- An allowed explanation: every witness is walked step by step. Each stored tuple must exist in
  the store, with the same condition, at the revision the decision names (the store's head has
  not moved), and its step must name the revision of the write that is live (the changelog's
  last change of the tuple: a write, at or before the decision's revision); each contextual tuple must be one the request sent; each tuple must fit the model;
  each rewrite a step uses (direct tuples, a computed relation, ``x from y``, an intersection,
  an exclusion) must be in the rewrite of the relation the walk stands on; each condition must
  hold when evaluated again with the request's context; each chain must end at the user (the
  user itself, its type's wildcard, or the user as a userset). An exclusion's ``but not`` branch
  must be false by Check.
- A denied explanation: Check must agree (false, or the same error), and every node of the
  denial tree marked ``settled`` (the whole ``object#relation`` does not grant) must be false
  by Check as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.explain import ExplainParams, ExplainQuery
from permsvc.commands.models import ModelResolver
from permsvc.core.errors import PermsvcError
from permsvc.engine.errors import openfga_code
from permsvc.engine.explain import witness_size
from permsvc.engine.plan import plan_for
from permsvc.model.schema import (
    ComputedUserset,
    Difference,
    Intersection,
    This,
    TupleToUserset,
    Union,
)

if TYPE_CHECKING:
    from permsvc.core.refs import TupleKey
    from permsvc.engine.explain import Denial, Explanation, Step
    from permsvc.model.schema import Rewrite
    from permsvc.model.typesystem import TypeSystem
    from permsvc.store.protocol import TupleChange

__all__ = ("Verifier", "verify_request")


def _nodes(rewrite: Rewrite) -> list[Rewrite]:
    out = [rewrite]
    match rewrite:
        case Union(children=children) | Intersection(children=children):
            for child in children:
                out.extend(_nodes(child))
        case Difference(base=base, subtract=subtract):
            out.extend(_nodes(base))
            out.extend(_nodes(subtract))
    return out


class Verifier:
    """Verifies the explanations of one stage (one store, model, request inputs)."""

    def __init__(
        self,
        datastore: Any,
        check: CheckQuery,
        store_id: str,
        typesystem: TypeSystem,
        contextual: tuple[TupleKey, ...],
        context: dict[str, Any] | None,
    ) -> None:
        self.ds = datastore
        self.check = check
        self.store_id = store_id
        self.ts = typesystem
        self.plan = plan_for(typesystem)
        self.contextual = {k.key: k for k in contextual}
        self.contextual_tuples = contextual
        self.context = context
        self.witnesses = 0
        self.steps = 0
        self.denials = 0
        self.settled = 0
        self.revisions = 0
        self._last_changes: dict[tuple[str, str, str], TupleChange] | None = None

    async def _check(self, obj: str, relation: str, user: str) -> bool | int:
        from permsvc.core.refs import TupleKey

        try:
            out = await self.check.execute(
                CheckParams(
                    store_id=self.store_id,
                    tuple_key=TupleKey(object=obj, relation=relation, user=user),
                    model_id=self.ts.model_id,
                    contextual_tuples=self.contextual_tuples,
                    context=self.context,
                )
            )
        except PermsvcError as err:
            return openfga_code(err)[0]
        return out.allowed

    def _rewrite(self, obj: str, relation: str) -> list[Rewrite]:
        rp = self.plan.relations.get((obj.partition(":")[0], relation))
        if rp is None:
            raise AssertionError(f"{obj}#{relation}: no such relation in the model")
        return _nodes(rp.rewrite)

    async def _tuple_exists(self, step: Step, revision: int) -> None:
        key = step.tuple_key
        assert key is not None, "a tuple step without its tuple"
        if step.kind == "contextual_tuple":
            sent = self.contextual.get(key.key)
            assert sent is not None and sent.condition == key.condition, (
                f"{key}: not a contextual tuple of the request"
            )
            return
        head = await self.ds.head_revision(self.store_id)
        assert int(getattr(head, "value", head)) == revision, (
            f"the store moved past revision {revision}"
        )
        found = await self.ds.read_user_tuple(self.store_id, key.object, key.relation, key.user)
        assert found is not None, f"{key}: not in the store at revision {revision}"
        assert found.condition == key.condition, f"{key}: the stored tuple has another condition"
        assert key.key not in self.contextual, f"{key}: a contextual tuple reported as stored"
        # The step's revision is the write that is live now: the changelog writes the tuple (with
        # its condition) at that revision, at or before the decision's, and nothing changes it after.
        written = step.revision
        assert written is not None and 0 < written <= revision, (
            f"{key}: written at revision {written}, decision at {revision}"
        )
        last = (await self._changelog()).get(key.key)
        assert last is not None and last.operation == "write", f"{key}: no write in the changelog"
        assert (last.revision, last.key.condition) == (written, key.condition), (
            f"{key}: the live write is at revision {last.revision}, the step says {written}"
        )
        self.revisions += 1

    async def _changelog(self) -> dict[tuple[str, str, str], TupleChange]:
        """The last change of each tuple of the store, from its whole changelog (read once)."""
        if self._last_changes is None:
            last: dict[tuple[str, str, str], TupleChange] = {}
            after = 0
            while True:
                batch = await self.ds.changes_since(self.store_id, after, limit=1000)
                if not batch:
                    break
                for change in batch:
                    last[change.key.key] = change
                after = batch[-1].revision
            self._last_changes = last
        return self._last_changes

    async def witness(
        self, chain: tuple[Step, ...], user: str, revision: int, obj: str, relation: str
    ) -> None:
        first = chain[0]
        assert first.kind == "relation" and (first.object, first.relation) == (obj, relation), (
            "wrong start"
        )
        self.witnesses += 1
        await self._walk(chain[1:], user, revision, obj, relation)

    async def _walk(
        self, steps: tuple[Step, ...], user: str, revision: int, obj: str, relation: str
    ) -> None:
        i = 0
        n = len(steps)
        while i < n:
            step = steps[i]
            self.steps += 1
            rewrite = self._rewrite(obj, relation)
            where = f"{obj}#{relation}"
            if step.kind == "computed":
                assert step.object == obj and step.from_relation == relation, (
                    f"{where}: computed step elsewhere"
                )
                assert any(
                    isinstance(r, ComputedUserset) and r.relation == step.relation for r in rewrite
                ), f"{where} does not include {step.relation}"
                relation = step.relation
                i += 1
                continue
            if step.kind == "self":
                assert f"{obj}#{relation}" == user and i == n - 1, (
                    f"{where}: 'self' but the user is {user}"
                )
                return
            if step.kind == "intersection":
                assert any(isinstance(r, Intersection) for r in rewrite), (
                    f"{where}: no intersection"
                )
                assert step.sides and i == n - 1
                for side in step.sides:
                    await self._walk(side, user, revision, obj, relation)
                return
            if step.kind == "exclusion":
                diffs = [r for r in rewrite if isinstance(r, Difference)]
                assert diffs, f"{where}: no exclusion"
                if len(diffs) == 1:
                    await self._not_granted(diffs[0].subtract, obj, user)
                if step.excluded is not None:
                    await self._settled(step.excluded, user)
                i += 1
                continue
            assert step.kind in ("tuple", "contextual_tuple"), (
                f"{where}: unexpected step {step.kind}"
            )
            key = step.tuple_key
            assert key is not None and key.object == obj, f"{where}: the tuple is on another object"
            await self._tuple_exists(step, revision)
            assert self.plan.fits(key), f"{key}: does not fit the model"
            i += 1
            if i < n and steps[i].kind == "condition":
                cond = steps[i].condition
                assert (
                    cond is not None
                    and key.condition is not None
                    and cond.name == key.condition.name
                )
                assert cond.result and self.plan.condition_holds(key, self.context), (
                    f"{key}: condition false"
                )
                self.steps += 1
                i += 1
            elif key.condition is not None:
                raise AssertionError(f"{key}: conditional tuple without its condition step")
            if key.relation == relation:
                assert any(isinstance(r, This) for r in rewrite), f"{where} admits no direct tuples"
                if key.user == user:
                    assert i == n, f"{key}: the chain goes on after reaching the user"
                    return
                nxt = steps[i] if i < n else None
                assert nxt is not None, f"{key}: the chain stops before the user"
                self.steps += 1
                if nxt.kind == "wildcard":
                    utype = user.partition(":")[0]
                    assert (
                        "#" not in user
                        and key.user == f"{utype}:*"
                        and nxt.user == user
                        and i == n - 1
                    )
                    return
                assert nxt.kind == "userset" and f"{nxt.object}#{nxt.relation}" == key.user, (
                    f"{key}: expected the hop into {key.user}"
                )
                obj, relation = nxt.object, nxt.relation
            else:
                nxt = steps[i] if i < n else None
                assert nxt is not None and nxt.kind == "from", (
                    f"{key}: a tupleset tuple without its hop"
                )
                self.steps += 1
                assert nxt.object == key.user and nxt.tupleset == key.relation
                assert any(
                    isinstance(r, TupleToUserset)
                    and r.tupleset == key.relation
                    and r.computed_relation == nxt.relation
                    for r in rewrite
                ), f"{where} has no '{nxt.relation} from {key.relation}'"
                obj, relation = nxt.object, nxt.relation
            i += 1
        raise AssertionError(f"the chain ends at {obj}#{relation}, not at the user {user}")

    async def _not_granted(self, subtract: Rewrite, obj: str, user: str) -> None:
        """A ``but not`` branch that a witness says failed: false by Check, leaf by leaf."""
        match subtract:
            case ComputedUserset(relation=rel):
                assert await self._check(obj, rel, user) is False, (
                    f"{obj}#{rel}: excluding branch holds"
                )
            case TupleToUserset(tupleset=ts, computed_relation=cr):
                keys = list(await self.ds.read_object_relation(self.store_id, obj, ts))
                keys += [
                    k for k in self.contextual.values() if k.object == obj and k.relation == ts
                ]
                for key in keys:
                    if "#" not in key.user and not key.user.endswith(":*") and self.plan.fits(key):
                        ptype = key.user.partition(":")[0]
                        if (ptype, cr) in self.plan.relations:
                            got = await self._check(key.user, cr, user)
                            assert got is not True, f"{key.user}#{cr}: excluding branch holds"
            case Union(children=children):
                for child in children:
                    await self._not_granted(child, obj, user)
            case _:
                pass  # intersections / nested exclusions: covered by the denial of the whole decision

    async def denial(self, explanation: Explanation, user: str, obj: str, relation: str) -> None:
        """Check agrees with the denial, and every settled node of its tree is false by Check."""
        got = await self._check(obj, relation, user)
        if explanation.error is not None:
            assert got == openfga_code(explanation.error)[0], (
                f"Check gave {got}, explain {explanation.error}"
            )
        else:
            assert got is False, f"explain denied {obj}#{relation}@{user} but Check gave {got}"
        self.denials += 1
        if explanation.denial is not None:
            await self._settled(explanation.denial, user)

    async def _settled(self, d: Denial, user: str) -> None:
        if d.settled:
            got = await self._check(d.object, d.relation, user)
            assert got is False, (
                f"denial node {d.object}#{d.relation} ({d.reason}) but Check gives {got}"
            )
            self.settled += 1
        for child in d.children:
            await self._settled(child, user)


async def verify_request(
    datastore: Any,
    counts: list[int],
    store_id: str,
    ts: TypeSystem,
    key: TupleKey,
    contextual: tuple[TupleKey, ...],
    context: Any,
) -> str:
    """Explain ``key`` (all witnesses, up to 5) and verify the answer: every witness step by step,
    or the denial against Check; the counts go to ``counts`` (an ``EXPLAIN_COUNTS`` entry). Returns
    ``allowed``, ``denied`` or ``refused`` (explain and Check refused it alike)."""
    resolver = ModelResolver(datastore)
    explain = ExplainQuery(reader=datastore, resolver=resolver)
    check = CheckQuery(reader=datastore, resolver=resolver)
    asked: dict[str, Any] = {
        "store_id": store_id,
        "tuple_key": key,
        "model_id": ts.model_id,
        "contextual_tuples": contextual,
        "context": context,
    }
    try:
        out = await explain.execute(ExplainParams(**asked, all_paths=True, limit=5))
    except PermsvcError as err:
        # Explain refuses what Check refuses (bad input, budget errors): the same error.
        try:
            await check.execute(CheckParams(**asked))
        except PermsvcError as check_err:
            assert type(check_err) is type(err), (
                f"{key}: explain raised {err!r}, Check {check_err!r}"
            )
            counts[4] += 1
            return "refused"
        raise AssertionError(f"{key}: explain raised {err!r}, Check answered") from err
    verifier = Verifier(datastore, check, store_id, ts, contextual, context)
    e = out.explanation
    if e.allowed:
        assert e.witnesses, f"{key}: allowed without a witness"
        sizes = [witness_size(w) for w in e.witnesses]
        for witness in e.witnesses:
            await verifier.witness(witness, key.user, out.revision, key.object, key.relation)
        assert await verifier._check(key.object, key.relation, key.user) is True, (
            f"{key}: Check disagrees"
        )
        assert sizes == sorted(sizes), f"{key}: witnesses not shortest first: {sizes}"
        counts[0] += len(e.witnesses)
        counts[1] += verifier.steps
        counts[5] += verifier.revisions
    else:
        await verifier.denial(e, key.user, key.object, key.relation)
        counts[2] += 1
        counts[3] += verifier.settled
    return "allowed" if e.allowed else "denied"
