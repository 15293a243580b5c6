"""`python -m transcoder_status.cli`: the same command as `transcoder-status`."""

from . import main

main()
