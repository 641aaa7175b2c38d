"""Event notifications (OBIE Event Notification API v3.1.11; docs/architecture.md section 7): the TPP's event
subscription and aggregated polling endpoints, the signed Security Event Token (RFC 8417) of each outbox event,
and the delivery worker that pushes them to the TPP's callback with retries, a delivery log and replay.

The events themselves are written by the changes that cause them (``consent.notifications``), in their
transaction; nothing here runs on the request path of those changes.
"""
