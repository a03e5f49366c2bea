"""What the work-order service refuses, as one exception hierarchy.

The API maps them to HTTP statuses (404, 403, 400, 409); the unit portal to its own
pages. Raised by `workorders.service` (the steps) and `workorders.order_reads` (reading
and the visibility rule)::

    WorkOrderError
     ├── OrderNotFound      no such order, or not visible to this unit handler
     ├── NotAllowed         the actor's role may not take this action
     ├── InvalidRequest     a malformed draft or plan, an unknown unit or time-limit class
     ├── StepRefused        the lifecycle refuses the step now (the message says why)
     └── OrderExistsForCall the call already has an order (`.number`); 409 too
"""

from __future__ import annotations


class WorkOrderError(Exception):
    pass


class OrderNotFound(WorkOrderError):
    pass


class NotAllowed(WorkOrderError):
    pass


class InvalidRequest(WorkOrderError):
    pass


class StepRefused(WorkOrderError):
    pass


class OrderExistsForCall(WorkOrderError):
    def __init__(self, linkedid: str, number: str) -> None:
        super().__init__(f"call {linkedid} already has order {number}")
        self.linkedid = linkedid
        self.number = number
