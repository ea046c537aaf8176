"""Documents for people outside the platform: claim statements (CSV and PDF)."""

from respite.adapters.documents.claim_statement import write_csv, write_pdf

__all__ = ["write_csv", "write_pdf"]
