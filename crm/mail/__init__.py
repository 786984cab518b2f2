"""Email capture (issue 17): reading inbound mail, the workspace inboxes, logging it."""
