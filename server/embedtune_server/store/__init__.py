"""SQLite stores: documents and feedback, in one WAL-mode database file."""
