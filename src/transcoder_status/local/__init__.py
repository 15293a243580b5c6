"""The embedded local stack: an AWS emulator on loopback, provisioned from template.yaml, with an
event-source poller that runs the real handler, and a transcoder simulator. Needs the ``local``
extra (moto, aws-sam-translator); the Lambda never imports this package.
"""
