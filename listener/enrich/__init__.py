"""Pure enrichment of media: sentiment and contest rules (no I/O at all)."""
