"""listener: listens to Instagram for a brand and keeps what it hears in MongoDB."""

__version__ = "0.1.0"
