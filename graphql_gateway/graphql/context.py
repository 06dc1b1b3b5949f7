from __future__ import annotations

from fastapi import Request
from strawberry.fastapi import BaseContext

from graphql_gateway.clients import Clients
from graphql_gateway.loaders import DataLoaders


class Context(BaseContext):
    def __init__(self, clients: Clients) -> None:
        super().__init__()
        self.clients = clients
        self.loaders = DataLoaders.for_request(clients)


async def get_context(request: Request) -> Context:
    return Context(request.app.state.clients)
