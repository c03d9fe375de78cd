"""The events function: SES notifications (via SNS) into recipient statuses, timelines and suppressions."""
