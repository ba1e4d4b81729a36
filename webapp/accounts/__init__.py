"""Members' accounts: registering, activating, logging in and out, resetting a password, the
login sessions kept on the server, a member's settings, and the mail about an account."""
