-- permsvc schema v4 (PostgreSQL): an API key's `scope` holds its roles, space-separated (check,
-- read, write, admin, claims), instead of one of three scopes; the role names themselves are
-- validated by permsvc.auth.roles.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scope_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scope_check CHECK (length(btrim(scope)) > 0);
