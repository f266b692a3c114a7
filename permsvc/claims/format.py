"""Wire format of the permission summary (version 1), shared by the encoder and the reader.

The claim's value is one JSON object with no whitespace and keys in sorted order::

    {"o":false,"p":{"organization#admin":["acme"],"project#viewer":["apollo","zeus"]},"rev":42,"v":1}

=======  =======================================================================================
key      meaning
=======  =======================================================================================
``v``    format version (``1``). A reader that does not know the version must ignore the claim.
``rev``  the store revision the summary was computed at, at least: every grant and revoke up to
         this revision is reflected. Compare it with a consistency token's revision to detect a
         summary older than a change you know of.
``p``    ``"type#relation"`` -> sorted list of object *ids* (without the ``type:`` prefix) the user
         has that relation on. A relation listed here is complete: an object missing from its
         list means "no" (as of ``rev``).
``o``    overflow: ``true`` when some relations of the spec were left out to stay within the byte
         budget. Relations that are not in ``p`` are unknown -- ask the check API.
``d``    (only when ``o`` is true) the ``"type#relation"`` keys that were left out, sorted.
=======  =======================================================================================

Same permissions and revision, same bytes: lists and keys are sorted and the encoding is fixed
(UTF-8, no whitespace, no escaping of non-ASCII characters).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

__all__ = ("FORMAT_VERSION", "encode_document")

FORMAT_VERSION = 1

_encoder = msgspec.json.Encoder(order="sorted")


def encode_document(
    revision: int, entries: Mapping[str, Sequence[str]], dropped: Sequence[str]
) -> bytes:
    """The canonical encoding; ``entries`` lists must already be sorted."""
    doc: dict[str, object] = {
        "v": FORMAT_VERSION,
        "rev": revision,
        "p": dict(entries),
        "o": bool(dropped),
    }
    if dropped:
        doc["d"] = sorted(dropped)
    return _encoder.encode(doc)
