"""Version labels: the names people give model versions (``1.1.0``) beside the registry's numbers.

The seed's guide names versions by the folder an artifact is uploaded to
(``models/recommendation/1.1.0/model.tar.gz``) and deploys them by that name, while the
registry numbers its versions 1, 2, 3 in creation order. Every version carries both: an
upload keeps its folder name as its label, a retrained version gets the next label of the
model's scheme (semantic versioning; which part a retrain bumps is the model's
``retrain_bump`` in ``models.toml``). A label names one version of a model, and never
looks like a number, so "3" always means the registry's v3.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from findining_mlops.config.catalog import all_models
from findining_mlops.errors import RegistryError
from findining_mlops.platform.ports import version_name
from findining_mlops.platform.records import VariantRecord

SEMANTIC = re.compile(r"(\d+)\.(\d+)\.(\d+)")
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
# a form's version field: a label, or a number ("3" names the registry's v3), which the schema allows separately
LABEL_PARAM_PATTERN = f"^{LABEL.pattern}$"
BUMPS = ("major", "minor", "patch")
FIRST_LABEL = "1.0.0"


def check_label(model_name: str, label: str) -> str:
    """The label, or RegistryError saying what a label may be."""
    if not LABEL.fullmatch(label) or label.isdigit():
        raise RegistryError(f"{model_name}: {label!r} cannot be a version label; use up to 64 letters, digits, "
                            f"dots, '_', '+' or '-', not only digits (a number names the registry's version), "
                            f"e.g. 1.1.0")
    return label


def retrain_bump(model_name: str) -> str:
    """The model's ``retrain_bump``; "minor" for a model the catalog does not define (the
    registry holds whatever is registered)."""
    spec = all_models().get(model_name)
    return spec.retrain_bump if spec else "minor"


def next_label(labels: Iterable[str], bump: str = "minor") -> str:
    """The label after the highest semantic label, with ``bump`` raised (``1.1.0`` →
    ``1.2.0`` for "minor"); ``1.0.0`` for a model without one. Higher than every existing
    semantic label, so never one of them."""
    if bump not in BUMPS:
        raise RegistryError(f"retrain_bump {bump!r} is not one of {', '.join(BUMPS)}")
    semantic = [tuple(int(part) for part in match.groups()) for label in labels if (match := SEMANTIC.fullmatch(label))]
    if not semantic:
        return FIRST_LABEL
    major, minor, patch = max(semantic)
    if bump == "major":
        return f"{major + 1}.0.0"
    if bump == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def allocate_label(model_name: str, requested: str | None, taken: Mapping[str, int]) -> str:
    """The label a new version gets: the one asked for, else the next of the model's scheme. ``taken`` maps the
    model's labels to their versions; a label already taken is refused, since a label names one version."""
    label = requested or next_label(taken, retrain_bump(model_name))
    if label in taken:
        raise RegistryError(f"cannot register {model_name} {label}: v{taken[label]} already has that label; "
                            f"a label names one version, so use a new one; the registry was not changed")
    return label


def resolve(registry, model_name: str, ref: int | str):
    """The ModelVersion a person means by ``ref``: a registry number (``3`` or ``"3"``) or
    a label (``"1.1.0"``). An unknown label is refused with the model's known versions."""
    if isinstance(ref, bool) or not isinstance(ref, (int, str)):
        raise RegistryError(f"{model_name}: a version is a registry number or a label such as 1.1.0, got {ref!r}")
    if isinstance(ref, int) or ref.strip().isdigit():
        return registry.get(model_name, int(ref))
    versions = registry.list_versions(model_name)
    for version in versions:
        if version.label == ref.strip():
            return version
    known = ", ".join(v.display for v in versions) or "none yet"
    raise RegistryError(f"model {model_name!r} has no version labelled {ref!r}; its versions: {known}")


class VersionNames(dict[int, str]):
    """A model's versions by number, as a person reads them: ``v3 (1.1.0)``. A number the
    registry cannot tell about still reads ``v3``: an alert must not fail for a label."""

    def __missing__(self, number: int) -> str:
        return version_name(number)


def version_names(registry, model_name: str) -> VersionNames:
    """The model's versions by number as messages, reports and the CLI name them, from one
    registry listing (a message may name several versions)."""
    return VersionNames({version.version: version.display for version in registry.list_versions(model_name)})


class LabelledVariant(VariantRecord):
    """A variant with its version's label and display name, as the health check and the CLI show it."""

    label: str
    display: str


def labelled_variants(registry, variants: list[VariantRecord]) -> list[LabelledVariant]:
    """Endpoint variants (``Endpoint.to_dict()["variants"]``) with each one's version label and
    both names (``display``), so a person reading the health check or the CLI sees both."""
    labels: dict[str, dict[int, str]] = {}
    labelled: list[LabelledVariant] = []
    for variant in variants:
        if variant["model"] not in labels:
            labels[variant["model"]] = {v.version: v.label for v in registry.list_versions(variant["model"])}
        label = labels[variant["model"]].get(variant["version"], "")
        labelled.append({**variant, "label": label, "display": version_name(variant["version"], label)})
    return labelled
