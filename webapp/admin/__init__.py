"""What only admins do: the members page, moderation of posts, the newsletter's pages and
the mail queue dashboard."""
