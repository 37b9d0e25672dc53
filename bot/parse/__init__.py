"""What people typed: the slash command's text, and which approach a message refers to."""
