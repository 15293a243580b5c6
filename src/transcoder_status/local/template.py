"""template.yaml, read and translated as `sam validate` does, for the local stack and the tests.

aws-sam-translator reads it (the YAML short forms ``!Ref``, ``!Sub`` ... become their long forms)
and turns the SAM resources into plain CloudFormation, the same transform AWS applies on deploy.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from samtranslator.yaml_helper import intrinsics_multi_constructor

from .emulator import REGION

# The repository's template.yaml, shipped as package data (a symlink here) so that an installed
# package runs `transcoder-status demo` with the same stack as the repository.
DEFAULT_TEMPLATE = Path(__file__).with_name("template.yaml")


class _TemplateLoader(yaml.SafeLoader):
    """A safe loader with aws-sam-translator's constructor of CloudFormation's short forms, the one
    ``sam validate`` uses. Its ``yaml_parse`` registers that constructor on yaml.SafeLoader itself,
    which would make every later ``yaml.safe_load`` in the process accept any ``!tag``."""


_TemplateLoader.add_multi_constructor("!", intrinsics_multi_constructor)


def load_template(path: Path = DEFAULT_TEMPLATE) -> dict[str, Any]:
    """The template as ``sam validate`` reads it: CloudFormation's short forms become long forms."""
    # A SafeLoader subclass (bandit cannot tell).
    template: dict[str, Any] = yaml.load(path.read_text(), Loader=_TemplateLoader)  # nosec B506
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
