"""A local Microsoft Entra ID (v2.0 endpoints) for development and tests.

Never a production dependency: the app does not import it.
"""

from .serve import EmulatorServer

__all__ = ["EmulatorServer"]
