"""The Slack slash command's language: signed requests, the command grammar, Block Kit answers,
and delivery to a command's `response_url`. The use case behind it is the one `POST /endpoints`
runs; only this edge is Slack's."""
