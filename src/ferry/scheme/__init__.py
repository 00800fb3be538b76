"""Integration schemes: QEasy metadata models, the native scheme file, loading and validation."""

from ferry.scheme._documents import DocumentError, read_document
from ferry.scheme.loader import load_any, load_metadata, load_scheme, parse_metadata
from ferry.scheme.metadata import FieldSpec, SourceMetadata, TargetMetadata
from ferry.scheme.model import Scheme, parse_duration
from ferry.scheme.schema import metadata_json_schema, scheme_json_schema
from ferry.scheme.validate import validate_metadata, validate_scheme

__all__ = [
    "DocumentError",
    "FieldSpec",
    "Scheme",
    "SourceMetadata",
    "TargetMetadata",
    "load_any",
    "load_metadata",
    "load_scheme",
    "metadata_json_schema",
    "parse_duration",
    "parse_metadata",
    "read_document",
    "scheme_json_schema",
    "validate_metadata",
    "validate_scheme",
]
