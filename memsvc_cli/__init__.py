"""The ``memsvc`` command line: the composition root for processes.

It lives outside the ``memsvc`` package because it wires both transports (``memsvc.api``
and ``mcp_server``) around the core, and the core must not depend on either.
"""

from memsvc_cli.main import main

__all__ = ["main"]
