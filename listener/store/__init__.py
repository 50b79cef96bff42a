"""The only code that speaks to MongoDB: connection, documents, bulk upserts, indexes."""
