"""In-app notifications: an unread count in the header and a list page."""
