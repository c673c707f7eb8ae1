-- Searching a roster by any part of a name or email, without reading every
-- row: a trigram GIN index (pg_trgm, a trusted extension shipped with
-- PostgreSQL) over "email name".

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX members_search ON members USING gin ((email || ' ' || name_lower) gin_trgm_ops);
