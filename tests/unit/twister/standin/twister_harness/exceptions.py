"""The harness's two exception types; the names are part of the contract."""


class TwisterHarnessException(Exception):
    pass


class TwisterHarnessTimeoutException(TwisterHarnessException):
    pass
