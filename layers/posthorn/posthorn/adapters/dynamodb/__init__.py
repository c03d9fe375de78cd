"""Where DynamoDB is read and written: one table, one repository per aggregate, on the `Table` base.

| item | pk | sk | gsi1pk / gsi1sk | module |
| --- | --- | --- | --- | --- |
| credential | CRED#<username> | CRED | CREDENTIALS / <created>#<username> | credentials.py |
| domain | DOMAIN#<domain> | DOMAIN |  | domains.py |
| message | MSG#<message_id> | MSG | (older ones: SES#<ses id> / MSG) | message_items.py, messages.py |
| SES id pointer | SES#<ses_message_id> | SES |  | message_items.py, messages.py |
| event | MSG#<message_id> | EVT#<event_key> (or the message's E#<type>:<hash>) |  | message_events.py |
| unmatched | UNMATCHED#<ses id> | EVT#<event_key> | (ttl: 30 d) | message_events.py |
| suppression | SUPP#<domain> | <address> |  | suppressions.py |
| suppression listing | SUPPLIST#<domain>[#<reason>] | <created>#<address> |  | suppressions.py |
| listing index | LIST#<domain>[#R/T/C/S#<value>] | <created>#<message_id> |  | listing.py |
| hourly counters | STATS#<domain>[#T#<tag>] | H#<yyyy-mm-ddThh> |  | stats.py |
| held message | HELD#<domain> | <held at>#<message_id> |  | held.py |
| rate / pace | RATE#<key> | RATE | (ttl: 1 d idle) | rate_limits.py |
| idempotency | IDEM#<scope> | IDEM | (ttl: 24 h) | idempotency.py |
| cached file | FILE#<file_key> | FILE | (ttl: its expires_at) | files.py |
| shared blob | BLOB#<owner>#<sha256> | BLOB | (ttl: latest expiry; `refs` count) | files.py |

Every repository of a process shares one `Table` (its name and one client, made on first use). Every item of
a message (record, events, listing and status items, held copy, and its webhook deliveries in the webhooks
table) carries the message's expiry as `ttl` (`retention.py`); the hourly counters expire 400 days after their
hour.
"""
