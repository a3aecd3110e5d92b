"""The aiohttp application: app factory, HTTP API, OpenAPI document, auth middleware and pages."""
