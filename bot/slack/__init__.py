"""Talking to Slack's Web API: a run's thread, the outbox, native streams, pacing, workspace clients."""
