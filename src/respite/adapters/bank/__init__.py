"""Bank file formats: CAMT.053/054 in (statements), pain.008/pain.001 out (collections, payouts)."""
