"""``respite serve``: the portal, the console and the creditor API in one process."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["serve"]


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes; one per core in production (1 = in-process).")
    ] = 1,
    proxy: Annotated[
        str,
        typer.Option(
            help="Addresses of trusted reverse proxies whose X-Forwarded-For/-Proto are "
            "believed (comma-separated); the default trusts none."
        ),
    ] = "",
) -> None:
    """Serve the debtor portal (/), the operator console (/console) and the API (/api/v1)."""
    import uvicorn

    uvicorn.run(
        "respite.entrypoints.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=bool(proxy),
        forwarded_allow_ips=proxy or None,
        server_header=False,
        log_level="info",
        # Access logs carry URLs, and a login link's URL carries the code: not logged.
        access_log=False,
    )
