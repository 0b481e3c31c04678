"""The Terraform stack in infra/terraform, read offline with python-hcl2 (no terraform binary):
its blocks, its variables' validation rules evaluated in Python, and its IAM policy documents
rendered to JSON for a given account."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import hcl2

STACK = Path(__file__).resolve().parents[2] / "infra" / "terraform"
ENVIRONMENTS = ("dev", "staging", "production")


@cache
def _load(path: Path) -> dict:
    with path.open() as handle:
        return hcl2.load(handle)


def tf_files() -> list[Path]:
    return sorted(STACK.rglob("*.tf"))


def tfvars(environment: str) -> dict:
    raw = _load(STACK / "environments" / f"{environment}.tfvars")
    return {name: literal(value) for name, value in raw.items() if not name.startswith("__")}


def blocks(kind: str) -> dict[str, dict]:
    """Blocks of one kind by name: ``variable``/``output`` -> {name: body};
    ``resource``/``data`` -> {"type.name": body}."""
    found: dict[str, dict] = {}
    for path in tf_files():
        for entry in _load(path).get(kind, []):
            for first, body in entry.items():
                if kind in ("resource", "data"):
                    for second, inner in body.items():
                        found[f"{unquote(first)}.{unquote(second)}"] = inner
                else:
                    found[unquote(first)] = body
    return found


def unquote(text: str) -> str:
    """``'"abc"'`` -> ``abc`` (python-hcl2 keeps the quotes of string literals)."""
    return json.loads(text) if isinstance(text, str) and text.startswith('"') and text.endswith('"') else text


def literal(value):
    if isinstance(value, str):
        return unquote(value)
    if isinstance(value, list):
        return [literal(v) for v in value]
    if isinstance(value, dict):
        return {unquote(k): literal(v) for k, v in value.items() if not k.startswith("__")}
    return value


def comments(body: dict) -> list[str]:
    return [c["value"] for c in body.get("__comments__", [])]


# ---- validation rules ---------------------------------------------------------------------------

def _hcl_regex(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if not match:
        raise ValueError(f"{pattern!r} does not match {text!r}")
    return match.group(0)


def _cidrhost(cidr: str, host: int) -> str:
    return str(ipaddress.IPv4Network(cidr, strict=False)[host])  # Terraform allows host bits


def _can(thunk) -> bool:
    try:
        thunk()
        return True
    except Exception:
        return False


FUNCTIONS = {"can": _can, "regex": _hcl_regex, "contains": lambda items, x: x in items, "alltrue": all,
             "length": len, "floor": math.floor, "cidrhost": _cidrhost, "tonumber": float,
             "split": lambda sep, text: text.split(sep)}


def _outside_strings(expr: str):
    """(index, char, in_string) for each character of an HCL expression."""
    in_string = escaped = False
    for i, char in enumerate(expr):
        yield i, char, in_string
        if in_string and char == "\\" and not escaped:
            escaped = True
            continue
        if char == '"' and not escaped:
            in_string = not in_string
        escaped = False


def _for_expressions(expr: str) -> str:
    """``[for x in xs : f(x)]`` -> ``[f(x) for x in xs]``, innermost first."""
    while (start := expr.find("[for ")) >= 0:
        depth, colon, end = 0, None, None
        for i, char, in_string in _outside_strings(expr[start:]):
            if in_string:
                continue
            depth += char == "["
            depth -= char == "]"
            if char == ":" and depth == 1 and colon is None:
                colon = start + i
            if depth == 0:
                end = start + i
                break
        head = expr[start + 5: colon].strip()  # "x in xs"
        expr = f"{expr[:start]}[{expr[colon + 1:end].strip()} for {head}]{expr[end + 1:]}"
    return expr


def python_condition(condition: str) -> str:
    """An HCL validation condition as a Python expression over ``var`` and FUNCTIONS."""
    expr = condition.strip()
    if expr.startswith("${") and expr.endswith("}"):
        expr = expr[2:-1]
    expr = _for_expressions(expr)
    out, i = [], 0
    spans = list(_outside_strings(expr))
    while i < len(expr):
        char, in_string = spans[i][1], spans[i][2]
        rest = expr[i:]
        if not in_string:
            if rest.startswith("&&"):
                out.append(" and ")
                i += 2
                continue
            if rest.startswith("||"):
                out.append(" or ")
                i += 2
                continue
            if char == "!" and not rest.startswith("!="):
                out.append(" not ")
                i += 1
                continue
            if rest.startswith("can("):
                out.append("can(lambda: ")
                i += 4
                continue
            word = re.match(r"\b(true|false|null)\b", rest) if (i == 0 or not expr[i - 1].isalnum()) else None
            if word:
                out.append({"true": "True", "false": "False", "null": "None"}[word.group(1)])
                i += len(word.group(1))
                continue
        out.append(char)
        i += 1
    return "".join(out)


def violated_rules(variable: str, value) -> list[str]:
    """The error messages of ``variable``'s validation blocks that ``value`` breaks."""
    body = blocks("variable")[variable]
    broken = []
    for rule in body.get("validation", []):
        # one namespace: the lambdas of can() look names up in the globals
        scope = {"__builtins__": {}, **FUNCTIONS, "var": SimpleNamespace(**{variable: value})}
        if not eval(python_condition(rule["condition"]), scope):  # noqa: S307 - our own .tf
            broken.append(unquote(rule["error_message"]))
    return broken


def default(variable: str):
    body = blocks("variable")[variable]
    return literal(body["default"]) if "default" in body else None


# ---- IAM policy documents -----------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\{([^}]+)\}")


def render_policy(document: str, references: dict[str, str | list[str]]) -> dict:
    """``data.aws_iam_policy_document.<document>`` as IAM JSON, every ``${reference}`` and
    every whole-expression attribute replaced from ``references``."""
    body = blocks("data")[f"aws_iam_policy_document.{document}"]

    def strings(value) -> list[str]:
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        if value in references or (value.startswith("${") and value.endswith("}") and value[2:-1] in references):
            found = references.get(value, references.get(value[2:-1]))
            return found if isinstance(found, list) else [found]
        text = unquote(value)

        def substitute(match: re.Match) -> str:
            if match.group(1) not in references:
                raise KeyError(f"{document}: no value for ${{{match.group(1)}}}; add it to the test's references")
            return references[match.group(1)]
        return [_REFERENCE.sub(substitute, text)]

    statements = []
    for st in body["statement"]:
        rendered = {"Effect": unquote(st.get("effect", '"Allow"')), "Action": strings(st["actions"]),
                    "Resource": strings(st["resources"])}
        if "sid" in st:
            rendered["Sid"] = unquote(st["sid"])
        for condition in st.get("condition", []):
            rendered.setdefault("Condition", {}).setdefault(unquote(condition["test"]), {})[
                unquote(condition["variable"])] = strings(condition["values"])
        statements.append(rendered)
    return {"Version": "2012-10-17", "Statement": statements}


def policy_statements(document: str) -> list[dict]:
    """The statements of a policy document as parsed (resources unrendered), with comments."""
    return blocks("data")[f"aws_iam_policy_document.{document}"]["statement"]
