"""A documents API protected by permsvc: list, read, share, unshare, delete.

Run it (see README.md): ``PERMSVC_URL=... PERMSVC_STORE=... uvicorn app:app``. Callers send their
access token (``Authorization: Bearer ...``); permsvc validates it and decides. This API holds no
JWT library and no permission logic: each protected route is one line of ``dependencies=``.
"""

from __future__ import annotations

import os
from typing import Literal

from fastapi import Depends, FastAPI, HTTPException
from permsvc_client import AsyncPermsvc
from permsvc_client.fastapi import Guards
from pydantic import BaseModel

DOCUMENTS = {
    "roadmap": {"id": "roadmap", "title": "Roadmap 2027", "body": "Ship the clients."},
    "budget": {"id": "budget", "title": "Budget", "body": "Numbers."},
    "handbook": {"id": "handbook", "title": "Employee handbook", "body": "Be kind."},
}

permsvc = Guards(
    AsyncPermsvc.from_env()
)  # PERMSVC_URL, PERMSVC_API_KEY (check role), PERMSVC_STORE
admin = AsyncPermsvc.from_env(credential=os.environ.get("PERMSVC_ADMIN_KEY"))  # grants and revokes

app = FastAPI(title="documents")


class Share(BaseModel):
    user: str  # the other user's id (token ``sub``), e.g. "auth0|64b1f00d"
    relation: Literal["viewer", "editor"] = "viewer"


def _tuple(doc_id: str, relation: str, user: str) -> dict[str, str]:
    return {"object": f"document:{doc_id}", "relation": relation, "user": f"user:{user}"}


@app.get("/documents")
async def list_documents(token: str = Depends(permsvc.token)) -> list[dict[str, str]]:
    with permsvc.errors():
        readable = await permsvc.client.all_objects("document", "can_read", subject_token=token)
    return [DOCUMENTS[o.split(":", 1)[1]] for o in readable if o.split(":", 1)[1] in DOCUMENTS]


@app.get(
    "/documents/{doc_id}", dependencies=[Depends(permsvc.require("can_read", "document:{doc_id}"))]
)
async def read_document(doc_id: str) -> dict[str, str]:
    if doc_id not in DOCUMENTS:
        raise HTTPException(404, "no such document")
    return DOCUMENTS[doc_id]


@app.post(
    "/documents/{doc_id}/share",
    dependencies=[Depends(permsvc.require("can_share", "document:{doc_id}"))],
)
async def share_document(doc_id: str, share: Share) -> dict[str, object]:
    with permsvc.errors():
        change = await admin.grant([_tuple(doc_id, share.relation, share.user)])
    return {"shared_with": share.user, "relation": share.relation, "revision": change.revision}


@app.delete(
    "/documents/{doc_id}/share/{user}",
    dependencies=[Depends(permsvc.require("can_share", "document:{doc_id}"))],
)
async def unshare_document(doc_id: str, user: str) -> dict[str, object]:
    with permsvc.errors():
        change = await admin.revoke(
            [_tuple(doc_id, "viewer", user), _tuple(doc_id, "editor", user)]
        )
    return {"unshared": user, "revision": change.revision}


@app.delete(
    "/documents/{doc_id}",
    status_code=204,
    dependencies=[Depends(permsvc.require("can_delete", "document:{doc_id}"))],
)
async def delete_document(doc_id: str) -> None:
    DOCUMENTS.pop(doc_id, None)
    with permsvc.errors():
        await admin.delete_tuples(object=f"document:{doc_id}")
