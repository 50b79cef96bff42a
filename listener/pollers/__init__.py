"""Feeds that poll the Graph API into the store, and the scheduler that paces them."""
