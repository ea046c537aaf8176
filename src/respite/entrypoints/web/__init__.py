"""The web entry points' shared ground: one FastAPI app serving the debtor portal (``/``),
the creditor API (``/api/v1``) and the operator console (``/console``).

``app.create_app`` wires them; ``security`` adds the headers and the CSRF cookie;
``sessions`` keeps logged-in browsers; ``i18n`` and ``templating`` render pages in the
visitor's language. Routes parse, authorise and call a service; they hold no business logic.
"""
