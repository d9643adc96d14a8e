"""The SCIM verbs: provision, update, deprovision, find and follow a user."""
