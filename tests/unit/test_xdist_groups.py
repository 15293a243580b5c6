"""`make test` runs ``pytest -n 2 --dist loadgroup``: the tests of one ``xdist_group`` (the e2e group,
each bench module with its one scaled-down run) must go to one worker. pytest-xdist tells its scheduler
a test's group by appending ``@<group>`` to the node ID; pytest 9.2 dropped that suffix, and every group
was then silently spread over both workers (https://github.com/pytest-dev/pytest-xdist/issues/1386)."""

from __future__ import annotations

import pytest

GROUP = "xdist-groups-probe"


@pytest.mark.xdist_group(GROUP)
def test_a_grouped_test_reaches_the_scheduler_with_its_group(request: pytest.FixtureRequest) -> None:
    # Only a loadgroup run (make test) has a group to carry; a plain `pytest` run has no scheduler.
    if getattr(request.config.option, "loadgroup", False):
        assert request.node.nodeid.endswith(f"@{GROUP}"), request.node.nodeid
