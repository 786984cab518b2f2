"""Email capture's entry points (issue 17): the SMTP receiver (smtp.py), the SendGrid and Mailgun
inbound webhooks (webhooks.py), and what both hand a mail to (intake.py)."""
