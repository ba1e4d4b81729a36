"""Mail about posts: the outbox of notification events, the fan-out worker that turns each
into one pickup file per recipient, the daily digest, the newsletter, bounces, unsubscribing."""
