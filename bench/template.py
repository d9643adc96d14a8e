"""What the bench needs from `template.yaml`: a function's memory size, handler and environment,
and the DynamoDB tables that environment names.

SAM's rules: a `Globals.Function` setting applies to every function, and a function's own setting
replaces it (environment variables merge, the function's winning). CloudFormation's short tags
(`!Ref`, `!Sub`, `!GetAtt`, ...) are read as `Tag` values, not resolved.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

LAMBDA_DEFAULT_MEMORY_MB = 128  # what Lambda gives a function that sets no MemorySize


@dataclass(frozen=True)
class Tag:
    """A CloudFormation intrinsic in short form, e.g. `!Ref IdempotencyTable`."""

    name: str
    value: Any


class _TemplateLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no types
    """SafeLoader that keeps CloudFormation's tags as `Tag` values."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tag:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return Tag(suffix, value)


_TemplateLoader.add_multi_constructor("!", _construct_tag)


@dataclass(frozen=True)
class Template:
    document: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> "Template":
        with path.open(encoding="utf-8") as text:
            document: dict[str, Any] = yaml.load(text, Loader=_TemplateLoader)  # noqa: S506 - SafeLoader subclass
        return cls(document)

    def resource(self, logical_id: str) -> dict[str, Any]:
        resource: dict[str, Any] = self.document["Resources"][logical_id]
        return resource

    def _function_globals(self) -> dict[str, Any]:
        function_globals: dict[str, Any] = self.document.get("Globals", {}).get("Function", {})
        return function_globals

    def function_property(self, logical_id: str, name: str) -> Any:
        """The function's own setting, else the one in `Globals.Function`, else None."""
        own = self.resource(logical_id).get("Properties", {})
        return own[name] if name in own else self._function_globals().get(name)

    def memory_size_mb(self, logical_id: str) -> int:
        memory = self.function_property(logical_id, "MemorySize")
        return LAMBDA_DEFAULT_MEMORY_MB if memory is None else int(memory)

    def timeout_seconds(self, logical_id: str) -> float:
        timeout = self.function_property(logical_id, "Timeout")
        return 3.0 if timeout is None else float(timeout)

    def handler_module(self, logical_id: str) -> str:
        handler = str(self.function_property(logical_id, "Handler"))
        return handler.rpartition(".")[0]

    def environment(self, logical_id: str) -> dict[str, Any]:
        """Globals' variables, overlaid with the function's own."""
        variables: dict[str, Any] = {}
        for properties in (self._function_globals(), self.resource(logical_id).get("Properties", {})):
            variables.update(properties.get("Environment", {}).get("Variables", {}))
        return variables

    def functions(self) -> list[str]:
        """The logical ids of every function."""
        return [
            logical_id
            for logical_id, resource in self.document["Resources"].items()
            if resource.get("Type") == "AWS::Serverless::Function"
        ]

    def layers(self, logical_id: str) -> list[str]:
        """The logical ids of the function's layers: Globals' first, then its own (as SAM merges them)."""
        own = self.resource(logical_id).get("Properties", {}).get("Layers", [])
        return [layer.value for layer in [*self._function_globals().get("Layers", []), *own] if isinstance(layer, Tag)]

    def parameter_default(self, name: str) -> Any:
        return self.document.get("Parameters", {}).get(name, {}).get("Default")

    def table_variables(self, logical_id: str) -> dict[str, dict[str, Any]]:
        """The function's variables that are `!Ref` to a DynamoDB table: name -> the table's properties."""
        resources = self.document["Resources"]
        return {
            variable: resources[value.value].get("Properties", {})
            for variable, value in self.environment(logical_id).items()
            if isinstance(value, Tag)
            and value.name == "Ref"
            and resources.get(value.value, {}).get("Type") == "AWS::DynamoDB::Table"
        }
