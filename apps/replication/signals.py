"""Sent once when a replication job reaches a terminal status (completed, failed, cancelled).

The scheduler listens to start the next queued VM of a run without a worker waiting idle.
"""
import django.dispatch

replication_finished = django.dispatch.Signal()  # kwargs: job
