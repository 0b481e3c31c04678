"""Which registry version serves where: a production variant is named after the version it
serves (``<model>-v<version>``), the champion is the version with most of the endpoint's
traffic, and a model's first approved version gets an endpoint of its own."""

from __future__ import annotations

from findining_mlops.config.catalog import ModelSpec
from findining_mlops.errors import DataValidationError
from findining_mlops.platform.ports import APPROVED, ModelVersion, Platform, ProductionVariant


def champion(platform: Platform, spec: ModelSpec) -> ModelVersion | None:
    """The version serving most traffic on the model's endpoint, else the latest approved."""
    endpoint = platform.endpoints.describe(spec.endpoint_name)
    if endpoint is not None:
        live = max(endpoint.variants, key=lambda v: v.weight)
        return platform.registry.get(spec.name, live.model_version)
    return platform.registry.latest(spec.name, APPROVED)


def bootstrap_deploy(platform: Platform, spec: ModelSpec, version: ModelVersion,
                     wait: bool = True) -> list[ProductionVariant] | None:
    """A model without an endpoint gets one serving the approved version at 100 %; returns
    the variants asked for (``wait=False``: the endpoint may still be ``Creating``)."""
    if version.status != APPROVED:
        return None
    if platform.endpoints.describe(spec.endpoint_name) is not None:
        return None
    variants = [production_variant(version, 1.0)]
    platform.endpoints.deploy(spec.endpoint_name, variants, wait=wait)
    return variants


def variant_name(version: ModelVersion) -> str:
    return f"{version.model_name}-v{version.version}"


def production_variant(version: ModelVersion, weight: float) -> ProductionVariant:
    """The production variant that serves ``version`` at ``weight``, named after it."""
    return ProductionVariant(variant_name(version), version.model_name, version.version, version.artifact_uri, weight)


def version_of_variant(model_name: str, variant: str) -> int:
    """The registry version a production variant serves, from its name (``variant_name``'s
    inverse). Data capture is filed under the variant's name, so this is how a past day's
    traffic names the version that served it, whatever serves the endpoint now."""
    prefix = f"{model_name}-v"
    number = variant[len(prefix):] if variant.startswith(prefix) else ""
    if not number.isdigit():
        raise DataValidationError(f"variant {variant!r} of {model_name} is not named {prefix}<version>: "
                                  "cannot tell which version served its traffic")
    return int(number)
