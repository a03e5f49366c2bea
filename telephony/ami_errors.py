"""What the AMI adapter raises.

Exceptions::

    AmiError
    ├── AmiConnectionError    cannot connect, no answer to the login in time, or the
    │                         connection closed during login
    ├── AmiLoginError         Asterisk refused the username or secret
    ├── AmiTimeoutError       no reply to an action within settings.action_timeout
    ├── AmiNotConnectedError  not logged in, or the connection dropped before the reply
    └── AmiActionFailed       Asterisk answered the action with an error

Every message is one line naming the AMI address (and the user, for a refused login), so
`hotline run` can print it as it is.
"""

from __future__ import annotations

from telephony.ami_actions import AmiResponse


class AmiError(Exception):
    """Anything the AMI adapter reports."""


class AmiConnectionError(AmiError):
    pass


class AmiLoginError(AmiError):
    pass


class AmiTimeoutError(AmiError):
    pass


class AmiNotConnectedError(AmiError):
    pass


class AmiActionFailed(AmiError):
    def __init__(self, message: str, response: AmiResponse) -> None:
        super().__init__(message)
        self.response = response
