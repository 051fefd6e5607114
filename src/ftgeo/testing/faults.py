"""Fault injectors for tests of resuming and crash consistency."""
from __future__ import annotations

from transformers import TrainerCallback


class FailAfter(TrainerCallback):
    """Raise ``KeyboardInterrupt`` right after the checkpoint of step ``step`` is saved (tests of resuming)."""

    def __init__(self, step: int):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            raise KeyboardInterrupt(f"simulated interruption after step {state.global_step}")
