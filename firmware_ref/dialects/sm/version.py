"""The Serial Modem releases the ``sm`` dialect models, and what each prints about itself.

The next release is one more row here (plus whatever its code changed, found by diffing the
firmware's ``app/src`` between the tags).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SmRelease:
    tag: str  # the git tag of nrfconnect/ncs-serial-modem
    # #XSMVER: SM_VERSION is `git describe --tags` of the build; NCS_VERSION_STRING is the
    # VERSION file of the sdk-nrf revision west.yml pins (v3.3.0-rc1 for v2.0.0-preview1).
    sm_version: str
    ncs_version: str
    customer_version: str = ""  # CONFIG_SM_CUSTOMER_VERSION (empty in the default build)


RELEASES = {
    "2.0.0-preview1": SmRelease(
        tag="v2.0.0-preview1", sm_version="v2.0.0-preview1", ncs_version="3.3.0-rc1"
    ),
}
CURRENT = "2.0.0-preview1"


def release(version: str = CURRENT) -> SmRelease:
    return RELEASES[version]
