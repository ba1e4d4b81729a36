"""What an admin sees of the queue and does to it: status, listings, moves and `relay check`,
the one implementation behind the command line and the dashboard."""
