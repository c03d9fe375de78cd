"""The deliverability guard: pausing a domain on its reputation, resuming it, and its held messages."""
