"""What people see, built from typed rows: pure Block Kit builders, Markdown and mrkdwn."""
