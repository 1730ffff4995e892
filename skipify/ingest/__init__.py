"""Ingest: landing files (contract, Spotify history, MSSD) -> validated raw.* tables + quarantine."""

from skipify.ingest.load import BatchReport, ingest_paths
from skipify.ingest.sources import FORMATS, IngestError, SourceFile, discover

__all__ = ["BatchReport", "FORMATS", "IngestError", "SourceFile", "discover", "ingest_paths"]
