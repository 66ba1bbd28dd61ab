"""Inbound webhooks of the SMS provider."""
