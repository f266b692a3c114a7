"""The admin API (/v1/admin): grants, bulk import/export, models, API keys, audit log; and the
credential checks shared with the token-subject check API."""
