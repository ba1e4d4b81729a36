"""Mail that comes back to the site: bounces and complaints by their return path, and members'
replies to notifications, read from the relay's drop folder ([inbound] dir)."""
