"""The project's namespace: ``gruponos.x(...)`` calls the project's macro ``x``."""

from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context


def __getattr__(name: str) -> Any:
    @pass_context
    def call(context: Context, *args: Any, **kwargs: Any) -> Any:
        return context.environment.call(context, context[name], *args, **kwargs)

    return call
