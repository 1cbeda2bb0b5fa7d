"""HTML quality reports (placeholder: being written)."""
