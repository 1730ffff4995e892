"""Track text embeddings: the packaged MiniLM model, offline, each text encoded once."""

from __future__ import annotations

import numpy as np
import pytest

from skipify.ingest import ingest_paths
from skipify.text import embed_tracks
from skipify.warehouse import connect
from tests.data.files import track, write

pytestmark = pytest.mark.slow  # loads the sentence model (`make test-fast` leaves it out)


def test_texts_are_encoded_once_and_again_only_when_they_change(cfg, tmp_path):
    rows = [
        track("t1", title="Thunder Highway", artist="Garage Rebels", album="Amp", genres="rock"),
        track("t2", title="Riot Guitar Engine", artist="Garage Rebels", album="Amp", genres="rock"),
        track("t3", title="Salsa Corazon Fuego", artist="Ritmo Playa", album="Noche", genres="latin"),
        track("t4", title="", artist=None, album=None, genres=None),  # no text at all: no vector
    ]
    ingest_paths([write(rows, tmp_path / "tracks_1.csv")], cfg=cfg)
    assert embed_tracks(cfg) == 3
    assert embed_tracks(cfg) == 0  # a re-run encodes nothing

    ingest_paths([write([track("t3", title="Cumbia Vida Sabor", artist="Ritmo Playa", album="Noche", genres="latin")],
                       tmp_path / "tracks_2.csv")], cfg=cfg)
    assert embed_tracks(cfg) == 1  # only the changed text
    con = connect(cfg, read_only=True)
    vecs = dict(con.execute(
        "SELECT m.track_id, e.embedding FROM embeddings.track_text m JOIN embeddings.text_embeddings e USING (content_hash)"
    ).fetchall())
    assert sorted(vecs) == ["t1", "t2", "t3"]
    v = {k: np.array(x) for k, x in vecs.items()}
    assert all(len(x) == 384 and abs(np.linalg.norm(x) - 1) < 1e-4 for x in v.values())
    # text carries genre: the two rock tracks are closer to each other than to the latin one
    assert v["t1"] @ v["t2"] > v["t1"] @ v["t3"]
    assert con.execute("SELECT count(*) FROM embeddings.text_embeddings").fetchone()[0] == 4  # old vector kept
