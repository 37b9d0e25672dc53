"""How requests and the process come in: HTTP, its guard, Socket Mode, start and stop."""
