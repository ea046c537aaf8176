"""Celery workers that run shards of the nightly cycle (``respite worker``)."""
