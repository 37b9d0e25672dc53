"""`variations-bot` / `python -m bot`: Socket Mode when SLACK_APP_TOKEN is set, else HTTP on $PORT."""

from __future__ import annotations

import logging
import os
import sys

from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import build
from bot.config import ConfigError, Settings
from bot.server import HttpServer

log = logging.getLogger("bot")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    services = build(settings)
    try:
        if settings.socket_mode:
            log.info("starting in Socket Mode")
            SocketModeHandler(services.app, settings.slack_app_token).start()
        else:
            server = HttpServer(services.app, services.ack_first, port=settings.port)
            log.info("listening on http://0.0.0.0:%d/slack/events", settings.port)
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
