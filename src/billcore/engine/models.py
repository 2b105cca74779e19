"""The record of every engine run (issue 17 §5): when, for which clock, who or what started
it, what each step did, and the errors per customer."""

from __future__ import annotations

from django.db import models


class Trigger(models.TextChoices):
    SCHEDULER = "scheduler", "Scheduler (billcore serve)"
    CLI = "cli", "Command line"
    API = "api", "API"
    OTHER = "other", "Program"


class RunState(models.TextChoices):
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"


class EngineRun(models.Model):
    started_at = models.DateTimeField()  # the real time, whatever the engine's clock
    finished_at = models.DateTimeField(null=True, blank=True)
    now = models.DateTimeField()  # the engine's clock (moved only in test mode)
    trigger = models.CharField(max_length=12, choices=Trigger.choices)
    started_by = models.CharField(max_length=200, default="", blank=True)
    # The scheduler's interval: its next run is due that long after this one finished.
    interval_seconds = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=RunState.choices)
    steps = models.JSONField(default=list)  # the steps asked for, in order
    # What each step did: [{"step", "seconds", "figures": {name: count}, "notes": [...]}]
    step_log = models.JSONField(default=list)
    report = models.JSONField(default=dict)  # EngineReport.as_dict() without the errors
    errors = models.JSONField(default=list)  # [{"customer_id", "message", "step"}]
    error_count = models.PositiveIntegerField(default=0)
    failure = models.TextField(default="", blank=True)  # why a failed run stopped

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["trigger", "started_at"])]

    def __str__(self) -> str:
        return f"engine run {self.pk} ({self.trigger}, {self.state})"

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)
