"""The file cache: uploads, attachments and their checks, and cached files' bodies."""
