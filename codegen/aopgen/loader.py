# SPDX-License-Identifier: MIT
"""YAML loading that keeps line numbers and refuses duplicate keys (PyYAML keeps the last)."""
import yaml


class SchemaError(Exception):
    """A problem in a schema file, reported as `file:line: message`."""

    def __init__(self, file, line, message):
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line, self.message = file, line, message


class LMap(dict):
    """A mapping that remembers the file and line of itself and of each key."""

    file = "?"
    line = 0

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.lines = {}

    def line_of(self, key):
        return self.lines.get(key, self.line)


class LList(list):
    file = "?"
    line = 0


def _loader_for(path):
    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep=False):
        loader.flatten_mapping(node)
        result = LMap()
        result.file, result.line = path, node.start_mark.line + 1
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise SchemaError(path, key_node.start_mark.line + 1, f"key {key!r} is not a string")
            if key in result:
                raise SchemaError(path, key_node.start_mark.line + 1,
                                  f"duplicate key '{key}' (first at line {result.lines[key]})")
            result[key] = loader.construct_object(value_node, deep=True)
            result.lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(loader, node, deep=False):
        result = LList(loader.construct_object(child, deep=True) for child in node.value)
        result.file, result.line = path, node.start_mark.line + 1
        return result

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return Loader


def load(path, display_name=None):
    name = display_name or path
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        data = yaml.load(text, Loader=_loader_for(name))  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise SchemaError(name, (mark.line + 1) if mark else 0, f"YAML: {e.problem}") from None
    if not isinstance(data, LMap):
        raise SchemaError(name, 1, "the file must hold a mapping")
    return data
