"""What every command and the library say when AWS cannot be used at all: one wording, wherever it
is raised (the table, the queues, MediaConvert)."""

from __future__ import annotations

NO_CREDENTIALS = (
    "No AWS credentials found: configure a profile (AWS_PROFILE) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
)
NO_REGION = "No AWS region: set AWS_DEFAULT_REGION (or a profile's region), or pass region_name=... / --region."


def no_profile(name: str) -> str:
    """AWS_PROFILE names a profile that no config or credentials file holds (boto3 says only that)."""
    return (
        f"No AWS profile {name!r} in the config or credentials files: check AWS_PROFILE (`aws configure "
        "list-profiles` lists them), or unset it to use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
    )


def explain(error: BaseException) -> str:
    """One line for an AWS error: the shared wording for missing credentials or region, else the error's own."""
    from botocore.exceptions import NoCredentialsError, NoRegionError

    if isinstance(error, NoCredentialsError):
        return NO_CREDENTIALS
    if isinstance(error, NoRegionError):
        return NO_REGION
    return str(error)
