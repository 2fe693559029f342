"""The API tier (resource server). Bearer validation lands with the API issue."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")
