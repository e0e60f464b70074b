"""The mock MCP server's tools: what ``tools/list`` shows, what ``tools/call`` runs.

Two tools need only the base scope; ``admin_reset`` needs a wider one, so a client with the
base scope is refused with 403 ``insufficient_scope`` and must step up (MCP §10.1).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

BASE_SCOPE = "mcp:tools"
ADMIN_SCOPE = "mcp:admin"


@dataclass(frozen=True)
class Tool:
    """One tool: its name, what it does, its input schema and the scope it needs."""

    name: str
    description: str
    input_schema: dict[str, Any]
    scope: str = BASE_SCOPE

    def listed(self) -> dict[str, Any]:
        """The tool as ``tools/list`` shows it."""
        return {
            "name": self.name,
            "title": self.name.replace("_", " ").capitalize(),
            "description": self.description,
            "inputSchema": self.input_schema,
        }

    def run(self, arguments: dict[str, Any]) -> tuple[str, bool]:
        """What the tool answers for ``arguments``, and whether that is a tool error."""
        if self.name == "echo":
            text = arguments.get("text")
            return (text, False) if isinstance(text, str) else ("text must be a string", True)
        if self.name == "add":
            a, b = arguments.get("a"), arguments.get("b")
            if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in (a, b)):
                return "a and b must be numbers", True
            return str(float(a) + float(b)).removesuffix(".0"), False  # type: ignore[arg-type]
        return f"reset at {int(time.time())}", False


TOOLS = (
    Tool(
        "echo",
        "Returns the text it is given.",
        {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    ),
    Tool(
        "add",
        "Adds two numbers.",
        {
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
        },
    ),
    Tool(
        "admin_reset",
        "Resets the server's counters (needs the admin scope).",
        {"type": "object", "properties": {}},
        scope=ADMIN_SCOPE,
    ),
)


def scopes() -> list[str]:
    """Every scope a tool needs, base first (``scopes_supported``)."""
    return list(dict.fromkeys(tool.scope for tool in TOOLS))
