"""Submission: a client's own MIME as the SMTP relay received it, checked and accepted into the send path."""
