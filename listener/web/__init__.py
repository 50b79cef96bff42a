"""The aiohttp server: metrics, health, readiness (and the webhook receiver)."""
