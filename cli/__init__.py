"""The top of bando: the ``bando`` command line and the server it runs.

This package composes every other part — pipelines, the OGC API, the web pages — and
nothing else imports it.
"""
