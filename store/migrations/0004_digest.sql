-- Building issues: who chose the subject, and what editors dropped from a draft.

-- subject_set is 1 once an editor chose the subject; until then the subject is the
-- default one and follows the items when the draft is rebuilt.
ALTER TABLE issues ADD COLUMN subject_set INTEGER NOT NULL DEFAULT 0 CHECK (subject_set IN (0, 1));

-- issue_drops remembers the URLs an editor dropped from a draft, so that rebuilding
-- the draft does not bring them back.
CREATE TABLE issue_drops (
    issue_id INTEGER NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    url      TEXT    NOT NULL,
    PRIMARY KEY (issue_id, url)
);
