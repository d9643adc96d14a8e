"""SCIM 2.0 (RFC 7643, RFC 7644) as identity providers speak it: the User resource and the
discovery documents, the `filter` forms the service answers, PATCH operations with Okta's and
Entra's deviations, the `<prefix>/scim/settings` mapping to SIP usernames and profiles, and the
SCIM error of every refusal. Pure: no I/O. The models are scim2-models'."""
