"""Strawberry's extension hooks, looked up once per extension class instead of per request.

For every operation Strawberry builds four context managers (operation, parsing,
validation, execution), and each asks every extension whether it has that hook: it
inspects the method (generator? async generator? coroutine?) and wraps it anew in
`contextlib.asynccontextmanager`, which copies the function's name, doc and signature
onto a new wrapper (`functools.wraps`). With our five extensions that is twenty lookups
and about a dozen wrappers per request, about a tenth of the gateway's own CPU on the
front end's query (`python -m bench.request_cost`, docs/performance.md).

The answer depends only on the extension's class and the hook's name, so it is worked
out once per pair and kept; what a request still makes is the hook bound to its own
extension instance (`functools.partial`), which Strawberry then enters and leaves as
before, in the same order. `GATEWAY_GRAPHQL_CACHED_HOOKS=false` goes back to
Strawberry's own lookups (tests/graphql_gateway/test_cached_hooks.py runs both).
"""

from __future__ import annotations

import contextlib
import inspect
from asyncio import iscoroutinefunction
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner


@contextlib.asynccontextmanager
async def _awaited(func: Callable[[Any], Any], extension: SchemaExtension) -> AsyncIterator[None]:
    """A hook that is a coroutine function: awaited on entry (Strawberry's `from_callable`)."""
    await func(extension)
    yield


@contextlib.contextmanager
def _called(func: Callable[[Any], Any], extension: SchemaExtension) -> Iterator[None]:
    """A hook that is a plain function: called on entry (Strawberry's `from_callable`)."""
    func(extension)
    yield


# (extension class, hook name) -> None (no such hook) or (factory, is_async), where
# factory(extension) is the context manager Strawberry enters.
_KNOWN: dict[tuple[type, str], tuple[Callable[..., Any], bool] | None] = {}


def _classify(cls: type, name: str) -> tuple[Callable[..., Any], bool] | None:
    """What Strawberry's `get_hook` decides for any instance of `cls`, worked out once."""
    hook = getattr(cls, name)
    if hook is getattr(SchemaExtension, name):
        return None
    if inspect.isgeneratorfunction(hook):
        return contextlib.contextmanager(hook), False
    if inspect.isasyncgenfunction(hook):
        return contextlib.asynccontextmanager(hook), True
    if callable(hook):
        if iscoroutinefunction(hook):
            return partial(_awaited, hook), True
        return partial(_called, hook), False
    raise ValueError(f"Hook {name} on {cls} must be callable, received {hook!r}")


class _CachedHooks(ExtensionContextManagerBase):
    __slots__ = ()

    def get_hook(self, extension: SchemaExtension) -> WrappedHook | None:
        key = (type(extension), self.HOOK_NAME)
        try:
            known = _KNOWN[key]
        except KeyError:
            known = _KNOWN[key] = _classify(*key)
        if known is None:
            return None
        factory, is_async = known
        return WrappedHook(extension=extension, hook=partial(factory, extension), is_async=is_async)


class _Operation(_CachedHooks, OperationContextManager):
    __slots__ = ()


class _Validation(_CachedHooks, ValidationContextManager):
    __slots__ = ()


class _Parsing(_CachedHooks, ParsingContextManager):
    __slots__ = ()


class _Executing(_CachedHooks, ExecutingContextManager):
    __slots__ = ()


class CachedHooksRunner(SchemaExtensionsRunner):
    """Strawberry's runner, with the hook lookups above (stream results: as it comes)."""

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)
