-- Searching a roster by any part of a name or email, without reading every
-- row: a trigram GIN index (pg_trgm, a trusted extension shipped with
-- PostgreSQL) over "email name".

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX members_search ON members USING gin ((email || ' ' || name_lower) gin_trgm_ops);

-- A page of one role reads that role's members in email order.
CREATE INDEX members_by_role ON members(community_id, role, email);
