"""`pytest -l` prints every local of every frame in a failure's traceback: a provisioned key
must not be among them, nor in the error message."""

from __future__ import annotations

import textwrap

KEY_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7secretbody"

INNER = textwrap.dedent(
    """
    import os, threading, tty

    import pytest

    from pytest_slm.bringup import Credential, CredentialType, provision
    from pytest_slm.dut import SlmDut

    KEY = "-----BEGIN PRIVATE KEY-----\\n{key}\\n-----END PRIVATE KEY-----"


    def board(master):
        seen = b""
        while b"AT%CMNG=1,7,2\\r\\n" not in seen:
            seen += os.read(master, 4096)
        os.write(master, b"\\r\\nOK\\r\\n")
        seen = b""
        while b'-----\\"\\r\\n' not in seen:
            seen += os.read(master, 4096)
        os.write(master, b"\\r\\nERROR\\r\\n")


    @pytest.mark.parametrize("how", ["bringup", "client"])
    def test_provision_fails(how):
        master, slave = os.openpty()
        tty.setraw(slave)
        dut = SlmDut.open(os.ttyname(slave), timeout=10)
        threading.Thread(target=board, args=(master,), daemon=True).start()
        cred = Credential(7, CredentialType.CLIENT_KEY, KEY)
        if how == "bringup":
            provision(dut, [cred])
        else:
            dut.transcript.redact(KEY)
            dut.at("AT%CMNG=1,7,2")
            dut.at(f'AT%CMNG=0,7,2,"{{KEY}}"')
    """
).format(key=KEY_LINE)


def test_showlocals_never_prints_a_provisioned_key(pytester):
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-l", "-p", "no:cacheprovider", "--timeout", "60")
    result.assert_outcomes(failed=2)
    output = result.stdout.str() + result.stderr.str()
    assert "AT%CMNG=0" in output  # the failure is shown, with its locals
    assert "secretbody" not in output
