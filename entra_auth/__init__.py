"""The identity core: settings, HTTP client, OIDC metadata, Redis, token validation.

Plain Python except ``flask_ext``, the thin Flask adapter.
"""
