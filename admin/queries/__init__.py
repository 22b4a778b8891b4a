"""Database queries for the admin pages; the views call these and hold no SQL or ORM code."""
