"""Development tools: everything that lets you run and test the app without a Slack workspace.

Production never imports this package (``tests/test_dev_room.py`` checks it): the running bot is
``bot/app.py``, ``bot/server.py``, ``bot/services.py``, ``bot/config.py`` and ``bot/__main__.py``,
and ``bot/__main__.py`` reaches in here only for the ``playground`` command (and for ``run``
without Slack credentials, which starts the playground).

* :mod:`bot.dev.standin`: a loopback Slack Web API that records every call and injects faults,
  one module per API family;
* :mod:`bot.dev.driver`: sends the app the signed requests Slack would (slash commands,
  interactions, options, events);
* :mod:`bot.dev.blockkit_check`: checks a payload against Slack's Block Kit limits, naming the
  block and the limit;
* :mod:`bot.dev.playground`: the real app in a Slack-like page in the browser.
"""
