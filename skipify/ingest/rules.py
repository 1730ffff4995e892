"""What a text value of a play may hold: one set of rules for landing files, POST /v1/events and POST /v1/predict.

Ingest checks them in SQL (``key_problem`` and ``text_problem`` of ``sql/ingest/macros.sql``, given these
bounds as parameters); the API's request models use the same bounds and the same characters.

* An **id** (user_id, track_id, session_id) holds 1 to ``MAX_ID_CHARS`` characters, none of them a control
  character (C0, DEL, C1). A NUL byte in a key would reach SQL text that DuckLake builds for its catalog
  and stop every later read of the table (shared/PITFALLS.md).
* A **label** (platform, context_type, reason_start, reason_end, feedback) holds at most ``MAX_LABEL_CHARS``
  characters, no control character.
* **Free text** (a title, an artist) may hold tabs and line breaks, no other control character.
"""

from __future__ import annotations

MAX_ID_CHARS = 128
MAX_LABEL_CHARS = 64
MAX_QUOTED_CHARS = 200  # a bad value quoted in a quarantine reason or a 422 is cut at this length
CONTROL = r"[\x00-\x1F\x7F-\x9F]"  # the characters no id or label may hold (a regex class, Python and Rust syntax)
NO_CONTROL = r"^[^\x00-\x1F\x7F-\x9F]*$"  # a whole value without them


def params() -> dict[str, int]:
    """The bounds as the SQL checks take them."""
    return {"max_id_chars": MAX_ID_CHARS, "max_label_chars": MAX_LABEL_CHARS, "max_quoted_chars": MAX_QUOTED_CHARS}
