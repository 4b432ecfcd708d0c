"""OpenAPI docs at /docs from the bundled Swagger UI: no CDN, works offline."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["mount_docs"]


def mount_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` from the bundled assets."""
    import swagger_ui_bundle

    app.mount(
        "/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets"
    )

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        """The Swagger UI page for this app's OpenAPI document."""
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="memsvc API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/ui/favicon.svg",
        )
