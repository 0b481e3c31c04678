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


def _pairs(collection):
    """What ``for k, v in xs`` walks: a map's keys and values, a list's indexes and items."""
    return collection.items() if isinstance(collection, dict) else enumerate(collection)


def _replace(text: str, search: str, replacement: str) -> str:
    """Terraform's replace: a ``/regex/`` search is a regular expression."""
    if len(search) > 1 and search.startswith("/") and search.endswith("/"):
        return re.sub(search[1:-1], replacement, text)
    return text.replace(search, replacement)


FUNCTIONS = {"can": _can, "regex": _hcl_regex, "contains": lambda items, x: x in items, "alltrue": all,
             "length": len, "floor": math.floor, "cidrhost": _cidrhost, "tonumber": float,
             "split": lambda sep, text: text.split(sep), "_pairs": _pairs,
             "keys": lambda m: sorted(m), "values": lambda m: [m[k] for k in sorted(m)],
             "concat": lambda *lists: [x for xs in lists for x in xs],
             "flatten": lambda xs: [y for x in xs for y in (x if isinstance(x, list) else [x])],
             "distinct": lambda xs: list(dict.fromkeys(xs)), "compact": lambda xs: [x for x in xs if x],
             "replace": _replace, "str": str, "substr": lambda text, start, length: text[start:start + length],
             "trimsuffix": lambda text, suffix: text[: -len(suffix)] if suffix and text.endswith(suffix) else text}


def _string_end(expr: str, start: int) -> int:
    """Index of the quote closing the HCL string opened at ``start``, past its interpolations."""
    i = start + 1
    while i < len(expr):
        if expr[i] == "\\":
            i += 2
            continue
        if expr[i] == '"':
            return i
        if expr.startswith("${", i):
            i = _interpolation_end(expr, i + 2)
        i += 1
    raise ValueError(f"unterminated string in {expr!r}")


def _interpolation_end(expr: str, start: int) -> int:
    """Index of the ``}`` closing an interpolation whose body starts at ``start``."""
    depth, i = 1, start
    while i < len(expr):
        if expr[i] == '"':
            i = _string_end(expr, i)
        elif expr[i] == "{":
            depth += 1
        elif expr[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unterminated interpolation in {expr!r}")


def _templates(expr: str) -> str:
    """Every HCL template string ``"a${x}b"`` as a Python concatenation ``("a" + str(x) + "b")``;
    plain strings stay as they are."""
    out, i = [], 0
    while i < len(expr):
        if expr[i] != '"':
            out.append(expr[i])
            i += 1
            continue
        end = _string_end(expr, i)
        body = expr[i + 1:end]
        if "${" not in body:
            out.append(expr[i:end + 1])
        else:
            parts, j, text = [], 0, ""
            while j < len(body):
                if body.startswith("${", j):
                    close = _interpolation_end(body, j + 2)
                    parts += [json.dumps(json.loads(f'"{text}"')), f"str({_templates(body[j + 2:close])})"]
                    text, j = "", close + 1
                else:
                    text += body[j]
                    j += 1
            parts.append(json.dumps(json.loads(f'"{text}"')))
            out.append("(" + " + ".join(parts) + ")")
        i = end + 1
    return "".join(out)


class _Locals:
    """``local.<name>`` evaluated from the stack's locals blocks on first use, over ``var``;
    ``given`` holds the locals that come from data sources (account, region, partition, ...)."""

    def __init__(self, variables: dict, given: dict):
        self._variables, self._given = variables, dict(given)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._given:
            self._given[name] = evaluate(blocks("locals")[name], self._variables, self)
        return self._given[name]


def evaluate(expression: str, variables: dict, given_locals: dict | _Locals = None):
    """An HCL expression of the stack (a local's or an output's value) evaluated in Python over
    the variables ``variables`` (missing ones take their defaults) and the locals."""
    values = {name: default(name) for name in blocks("variable")} | variables
    local = given_locals if isinstance(given_locals, _Locals) else _Locals(values, given_locals or {})
    scope = {"__builtins__": {}, **FUNCTIONS, "var": SimpleNamespace(**values), "local": local}
    return eval(python_condition(_templates(expression.strip()[2:-1] if expression.strip().startswith("${")  # noqa: S307
                                            else expression)), scope)


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
        head = expr[start + 5: colon].strip()  # "x in xs" or "k, v in xs"
        names, _, collection = head.partition(" in ")
        if "," in names:
            head = f"{names} in _pairs({collection})"
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


def _broken(rules: list[dict], variables: dict) -> list[str]:
    broken = []
    for rule in rules:
        # one namespace: the lambdas of can() look names up in the globals
        scope = {"__builtins__": {}, **FUNCTIONS, "var": SimpleNamespace(**variables)}
        if not eval(python_condition(rule["condition"]), scope):  # noqa: S307 - our own .tf
            broken.append(unquote(rule["error_message"]))
    return broken


def violated_rules(variable: str, value) -> list[str]:
    """The error messages of ``variable``'s validation blocks that ``value`` breaks."""
    return _broken(blocks("variable")[variable].get("validation", []), {variable: value})


def violated_preconditions(resource: str, variables: dict) -> list[str]:
    """The error messages of ``resource``'s lifecycle preconditions that ``variables`` break
    (rules over several variables, which a variable's own validation cannot state)."""
    rules = [rule for lifecycle in blocks("resource")[resource].get("lifecycle", [])
             for rule in lifecycle.get("precondition", [])]
    return _broken(rules, variables)


def default(variable: str):
    body = blocks("variable")[variable]
    return literal(body["default"]) if "default" in body else None


# ---- IAM policy documents -----------------------------------------------------------------------

class StackValues(dict):
    """References for ``render_policy``: the values given (resource attributes, and the locals
    that come from data sources as ``local.<name>``), and any other expression of locals and
    variables evaluated from the HCL over ``variables`` (missing ones take their defaults)."""

    def __init__(self, given: dict, variables: dict):
        super().__init__(given)
        self._variables = {name: default(name) for name in blocks("variable")} | variables
        self._locals = _Locals(self._variables, {k.removeprefix("local."): v for k, v in given.items()
                                                 if k.startswith("local.")})

    def _evaluated(self, expression: str):
        try:
            return True, evaluate(expression, self._variables, self._locals)
        except (NameError, AttributeError, KeyError, SyntaxError, TypeError, ValueError):
            return False, None  # names a resource: only a given value can stand for it

    def __contains__(self, key) -> bool:
        return super().__contains__(key) or self._evaluated(key)[0]

    def __getitem__(self, key):
        if super().__contains__(key):
            return super().__getitem__(key)
        found, value = self._evaluated(key)
        if not found:
            raise KeyError(key)
        return value

    def get(self, key, default=None):
        return self[key] if key in self else default  # noqa: SIM401 (this is the mapping's own get)


_REFERENCE = re.compile(r"\$\{([^}]+)\}")


def render_policy(document: str, references: dict[str, str | list[str]]) -> dict:
    """``data.aws_iam_policy_document.<document>`` as IAM JSON, every ``${reference}`` and
    every whole-expression attribute replaced from ``references``."""
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
    for st in _expanded_statements(document, references):
        rendered = {"Effect": unquote(st.get("effect", '"Allow"')), "Action": strings(st["actions"]),
                    "Resource": strings(st["resources"])}
        if "sid" in st:
            rendered["Sid"] = unquote(st["sid"])
        for condition in st.get("condition", []):
            rendered.setdefault("Condition", {}).setdefault(unquote(condition["test"]), {})[
                unquote(condition["variable"])] = strings(condition["values"])
        statements.append(rendered)
    return {"Version": "2012-10-17", "Statement": statements}


def _dynamic_statements(body: dict) -> list[tuple[str, dict]]:
    """(for_each expression, content) of each ``dynamic "statement"`` block."""
    return [(entry['"statement"']["for_each"], entry['"statement"']["content"][0])
            for entry in body.get("dynamic", []) if '"statement"' in entry]


def _expanded_statements(document: str, references: dict) -> list[dict]:
    """The static statements, then each dynamic one once per element of its ``for_each`` (which
    ``references`` gives), with ``${statement.value}`` bound to the element."""
    body = blocks("data")[f"aws_iam_policy_document.{document}"]
    found = list(body.get("statement", []))
    for for_each, content in _dynamic_statements(body):
        key = for_each[2:-1] if for_each.startswith("${") else for_each
        if key not in references:
            raise KeyError(f"{document}: no value for the dynamic statement's for_each {key!r}; "
                           "add it to the references")
        for value in references[key]:
            found.append(json.loads(json.dumps(content).replace("${statement.value}", value)))
    return found


def policy_statements(document: str) -> list[dict]:
    """The statements of a policy document as parsed (resources unrendered), with comments;
    a dynamic statement's content counts as a statement."""
    body = blocks("data")[f"aws_iam_policy_document.{document}"]
    return list(body.get("statement", [])) + [content for _, content in _dynamic_statements(body)]
