"""Events (路演, 对接会, 成果巡展): an official's event with sessions and presented listings, sign-up with a waiting
list, single-use check-in codes shown as a QR code, 意向 recorded on the spot, and the event's outcome page."""
