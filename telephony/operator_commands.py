"""Desktop commands on a seat: log in, log out, pause, ready, wrap-up, ahead of a transfer.

Each command is checked against the state table first (`IllegalTransition`: nothing is
sent), then its AMI actions (QueueAdd / QueueRemove / QueuePause) are sent and awaited,
then the seat moves (`OperatorDesk.command`, which waits for the history row). Asterisk
cannot remove a static queue member: logging out pauses it with reason ``logout``
instead; after-call work pauses it with reason ``wrap_up``.

Errors::

    OperatorCommandError   Asterisk refused or did not answer (nothing changed)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from telephony import ami_actions
from telephony.ami_errors import AmiActionFailed, AmiError
from telephony.operators import (
    WRAP_UP_REASON,
    Login,
    Logout,
    Pause,
    Resume,
    Seat,
    StartWrapUp,
)

if TYPE_CHECKING:
    from telephony.operator_service import OperatorDesk


class OperatorCommandError(Exception):
    """Asterisk refused or did not answer a desktop command (nothing changed)."""


class OperatorCommands:
    def __init__(self, desk: OperatorDesk) -> None:
        self.desk = desk

    async def login(self, extension: str, skills: Iterable[str]) -> Seat:
        self.desk.check(extension, Login())
        queues = tuple(dict.fromkeys(skills))
        interface = self.desk.interfaces.interface(extension)
        member = f"op{extension}"
        for queue in queues:
            response = await self._send(ami_actions.queue_add(
                queue, interface, member_name=member, state_interface=interface))
            if not response.success and "already" not in response.message.lower():
                raise OperatorCommandError(f"QueueAdd {queue}: {response.message}")
        await self._send(ami_actions.queue_pause(interface, False))
        self.desk.skills[extension] = queues
        return await self.desk.command(extension, Login(), self.desk.core.clock())

    async def logout(self, extension: str) -> Seat:
        self.desk.check(extension, Logout())
        interface = self.desk.interfaces.interface(extension)
        static = False
        queues = self.desk.members.get(extension, set()) | set(self.desk.skills.get(extension, ()))
        for queue in sorted(queues):
            response = await self._send(ami_actions.queue_remove(queue, interface))
            if not response.success and "not dynamic" in response.message.lower():
                static = True
        if static:
            await self._send(ami_actions.queue_pause(interface, True, reason="logout"))
        self.desk.skills.pop(extension, None)
        return await self.desk.command(extension, Logout(), self.desk.core.clock())

    async def pause(self, extension: str, reason: str) -> Seat:
        self.desk.check(extension, Pause(reason))
        await self._pause(extension, True, reason)
        return await self.desk.command(extension, Pause(reason), self.desk.core.clock())

    async def ready(self, extension: str) -> Seat:
        self.desk.check(extension, Resume())
        await self._pause(extension, False, None)
        return await self.desk.command(extension, Resume(), self.desk.core.clock())

    async def wrap_up(self, extension: str, seconds: float | None = None) -> Seat:
        now = self.desk.core.clock()
        until = now + timedelta(seconds=self.desk.settings.wrap_up_seconds if seconds is None
                                else seconds)
        self.desk.check(extension, StartWrapUp(until))
        await self._pause(extension, True, WRAP_UP_REASON)
        return await self.desk.command(extension, StartWrapUp(until), now)

    async def before_transfer(self, extension: str) -> None:
        """Pause the seat for its after-call work now, so a blind transfer back into a
        queue it serves cannot ring it again before its call has ended."""
        if extension in self.desk.skills and self.desk.settings.wrap_up_seconds > 0:
            await self._pause(extension, True, WRAP_UP_REASON)

    async def _pause(self, extension: str, paused: bool, reason: str | None) -> None:
        response = await self._send(ami_actions.queue_pause(
            self.desk.interfaces.interface(extension), paused, reason=reason))
        if not response.success:
            raise OperatorCommandError(f"QueuePause: {response.message}")

    async def _send(self, action: ami_actions.AmiAction) -> ami_actions.AmiResponse:
        try:
            return await self.desk.core.ami.send(action)
        except AmiActionFailed as err:  # the caller decides (e.g. "already there" is fine)
            return err.response
        except AmiError as err:
            raise OperatorCommandError(f"{action.name}: {err}") from err
