"""The database and what it says: rows, migrations, the scoreboard, stats, export and purge."""
