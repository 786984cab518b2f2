"""“Who's talked to this customer?”, answered where it was asked.

Entry points (``handlers``):

* ``@crm who's talked to Acme?`` (and "who has spoken with", "who knows", "history with",
  "anyone talked to", ...) in a channel, a thread or a DM: the answer goes in that thread
  (a top-level mention starts one; in a DM it answers in place). With no customer in the
  question ("who's talked to them?") the customer is read from the thread's first message.
* the message shortcut ``who_talked_message`` on any message: the same answer in that
  message's thread, for the customer the message names;
* ``/crm who <customer>``: the same answer, visible only to the asker.

Rules:

* **Privacy.** In a channel shared with another organisation (Slack Connect), or one whose
  sharing cannot be checked, nothing from the CRM is posted publicly: the asker gets the
  answer ephemerally in the thread, with the reason.
* **Once.** Every mention is claimed in ``processed_events`` (its ``event_id`` and its
  channel + ts) before it is answered, so an Events API retry, a duplicate delivery or an
  edit of the question never produces a second answer, on any replica. Shortcut deliveries
  and clicks on a public "which customer?" list are claimed the same way.
* **Names, not pings.** Reps and owners are shown by display name (``users.info``, cached),
  never as ``<@U…>``: a mention in a bot message notifies the person, and a list of everyone
  who talked to a customer must not ping them all.
* Ignored on purpose: other bots' messages (``bot_id``; no bot-to-bot loops), the bot's own
  messages, and ``message_changed`` events (an edit is not a new question). Any other mention
  (blank, only emoji, "@crm hi") gets a private hint: this listener takes every mention, since
  an event no listener takes is answered 404 and Slack would deliver it again.
* In a DM there is nothing to keep private and no thread to start: the answer comes in place.

``questions`` reads the question and finds the customer it names; ``views`` holds the pure
Block Kit builders and the action ids.
"""

from commands.whos_talked.handlers import register

__all__ = ["register"]
