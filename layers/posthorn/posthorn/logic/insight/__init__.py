"""Reading back: one message, the listings and their cursors, the stats."""
