"""Training tasks: one per model family (`vhmae`, `huang`, ...), plugged into the framework by name.

See `vh.training.tasks.base` for the interface and the batch format.
"""

from vh.training.tasks.base import NonFiniteLossError, TrainTask, create_task, list_tasks, register_task

__all__ = ["NonFiniteLossError", "TrainTask", "create_task", "list_tasks", "register_task"]
