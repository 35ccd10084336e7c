"""The local Graph service: the v1.0 subset Mamoru uses, with Graph's semantics and limits.

``start_sandbox()`` serves it in-process on a free 127.0.0.1 port;
``mamoru sandbox`` runs it alone. Nothing is created at import time.
"""

from graph.sandbox.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID, seed_demo
from graph.sandbox.server import RunningSandbox, make_sandbox, start_sandbox
from graph.sandbox.state import Tenant
from graph.sandbox.throttle import Faults, Limits

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_TENANT_ID",
    "Faults",
    "Limits",
    "RunningSandbox",
    "Tenant",
    "make_sandbox",
    "seed_demo",
    "start_sandbox",
]
