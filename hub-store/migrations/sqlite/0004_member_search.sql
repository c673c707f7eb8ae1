-- Searching a roster by any part of a name or email, without reading every
-- row: a trigram full-text index (FTS5) over "email name", kept by triggers.
-- Contentless with contentless_delete, so it stores only the index.

CREATE VIRTUAL TABLE members_search USING fts5(
    text, content = '', contentless_delete = 1, tokenize = 'trigram'
);

INSERT INTO members_search (rowid, text)
SELECT rowid, email || ' ' || name_lower FROM members;

CREATE TRIGGER members_search_insert AFTER INSERT ON members BEGIN
    INSERT INTO members_search (rowid, text) VALUES (new.rowid, new.email || ' ' || new.name_lower);
END;

CREATE TRIGGER members_search_delete AFTER DELETE ON members BEGIN
    DELETE FROM members_search WHERE rowid = old.rowid;
END;

CREATE TRIGGER members_search_update AFTER UPDATE OF email, name_lower ON members BEGIN
    DELETE FROM members_search WHERE rowid = old.rowid;
    INSERT INTO members_search (rowid, text) VALUES (new.rowid, new.email || ' ' || new.name_lower);
END;

-- A page of one role reads that role's members in email order.
CREATE INDEX members_by_role ON members(community_id, role, email);
