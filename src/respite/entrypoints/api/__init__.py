"""The creditor API, ``/api/v1``: claim intake, status, timeline, collections, remittances,
webhooks. API keys per creditor with scopes; OpenAPI 3.1 at ``/api/v1/openapi.json``.
"""
