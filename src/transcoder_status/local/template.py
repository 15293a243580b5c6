"""template.yaml, read and translated as `sam validate` does, for the local stack and the tests.

The YAML short forms (``!Ref``, ``!Sub`` ...) become their long forms; aws-sam-translator then
turns the SAM resources into plain CloudFormation, the same transform AWS applies on deploy.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from .emulator import REGION

# The repository's template.yaml, shipped as package data (a symlink here) so that an installed
# package runs `transcoder-status demo` with the same stack as the repository.
DEFAULT_TEMPLATE = Path(__file__).with_name("template.yaml")


class _CloudFormationLoader(yaml.SafeLoader):
    """A YAML loader that knows CloudFormation's tags."""


def _tag(tag: str) -> None:
    name = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    _CloudFormationLoader.add_constructor(f"!{tag}", construct)


for _name in (
    "Ref",
    "GetAtt",
    "Sub",
    "If",
    "Equals",
    "And",
    "Or",
    "Not",
    "Join",
    "Select",
    "Split",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Base64",
    "Cidr",
    "Condition",
    "Contains",  # Rules only
):
    _tag(_name)


def load_template(path: Path = DEFAULT_TEMPLATE) -> dict[str, Any]:
    with path.open() as handle:
        # The loader is a SafeLoader subclass (bandit cannot tell).
        template: dict[str, Any] = yaml.load(handle, Loader=_CloudFormationLoader)  # nosec B506
    return template


def translate(
    template: dict[str, Any], parameters: dict[str, Any] | None = None, region: str = REGION
) -> dict[str, Any]:
    """The plain CloudFormation that the SAM transform makes of ``template``.

    Local code paths (``CodeUri: src/``) become a placeholder S3 location first, as ``sam validate``
    does: ``sam build`` and ``sam package`` put the real one there.
    """
    import boto3
    from samtranslator.metrics.metrics import Metrics
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = copy.deepcopy(template)
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str):
            properties["CodeUri"] = "s3://placeholder-bucket/transcoder-status.zip"
    metrics = Metrics()  # its default publisher drops them; unpublished, it warns as it is collected
    translator = Translator({}, Parser(), boto_session=boto3.Session(region_name=region), metrics=metrics)
    translated: dict[str, Any] = translator.translate(sam_template=template, parameter_values=dict(parameters or {}))
    metrics.publish()
    return translated


def main(argv: list[str]) -> int:
    """``python -m transcoder_status.local.template [template.yaml]``: what `sam validate` checks."""
    path = Path(argv[0]) if argv else DEFAULT_TEMPLATE
    translated = translate(load_template(path))
    print(f"{path}: translates to {len(translated['Resources'])} CloudFormation resources")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
