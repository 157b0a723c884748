"""Salesforce's `X-PrettyPrint: 1` JSON: Jackson's DefaultPrettyPrinter (reference §11).

Objects break lines with a 2-space indent per object level and `"key" : value`; arrays stay inline
(`[ a, b ]`, objects inside open `[ {` and close `} ]`) and do not add a level; empties are `[ ]` and
`{ }`; no trailing newline.
"""

import json


def render(value: object, level: int = 0) -> str:
    """Render `value` exactly as Salesforce's pretty printer would."""
    if isinstance(value, dict):
        if not value:
            return "{ }"
        pad = "  " * (level + 1)
        items = [f"{pad}{_scalar(str(k))} : {render(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[ ]"
        return "[ " + ", ".join(render(v, level) for v in value) + " ]"
    return _scalar(value)


def _scalar(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def dumps_bytes(value: object) -> bytes:
    return render(value).encode("utf-8")
