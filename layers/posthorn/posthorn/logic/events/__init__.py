"""SES's events: reading its notifications, recipient statuses, recording them, and the suppression list
they feed."""
