from __future__ import annotations

from fastapi import Request
from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext

from graphql_gateway.auth.identity import Identity, optional_identity_of, unauthenticated
from graphql_gateway.clients import Clients
from graphql_gateway.loaders import DataLoaders


class Context(BaseContext):
    def __init__(self, clients: Clients, identity: Identity | None) -> None:
        super().__init__()
        self.clients = clients
        # None: an anonymous caller while auth is on (graphql/access.py lets it `login` only).
        self.identity = identity
        self.loaders = DataLoaders.for_request(clients)

    @property
    def current_request(self) -> HTTPConnection:
        """The request being answered. Strawberry's type allows None, the value before it
        sets the request, which it (or router.py's GraphQLPost) does before any resolver."""
        if self.request is None:
            raise RuntimeError("The GraphQL context has no request yet")
        return self.request

    @property
    def caller(self) -> Identity:
        if self.identity is None:
            raise unauthenticated()
        return self.identity


async def get_context(request: Request) -> Context:
    return Context(request.app.state.clients, optional_identity_of(request))
