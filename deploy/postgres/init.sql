-- Each service owns its own database; none reads another's tables.
CREATE DATABASE intake;
CREATE DATABASE router;
CREATE DATABASE notifier;
CREATE DATABASE web;  -- the pages' staff accounts
