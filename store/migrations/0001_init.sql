-- Backend Weekly schema. Every timestamp column holds Unix milliseconds, UTC.

-- settings holds small named values, such as the secrets that sign unsubscribe links.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE subscribers (
    id                INTEGER PRIMARY KEY,
    email             TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    name              TEXT    NOT NULL DEFAULT '',
    status            TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced', 'complained')),
    created_at        INTEGER NOT NULL,
    status_changed_at INTEGER NOT NULL,
    status_source     TEXT    NOT NULL CHECK (status_source IN ('cli', 'import', 'signup', 'confirm', 'one-click', 'page', 'bounce', 'complaint')),
    -- the issue whose link carried the latest unsubscribe, if any
    unsubscribed_issue_id INTEGER REFERENCES issues (id) ON DELETE SET NULL,
    hard_bounces      INTEGER NOT NULL DEFAULT 0 CHECK (hard_bounces >= 0)
);
CREATE INDEX subscribers_status ON subscribers (status, id);

-- subscriber_events records every status change. It holds no personal data, so a
-- removed subscriber's events stay (anonymised) and per-issue counts stay true.
CREATE TABLE subscriber_events (
    id            INTEGER PRIMARY KEY,
    subscriber_id INTEGER REFERENCES subscribers (id) ON DELETE SET NULL,
    status        TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    issue_id      INTEGER REFERENCES issues (id) ON DELETE SET NULL,
    at            INTEGER NOT NULL
);
CREATE INDEX subscriber_events_issue ON subscriber_events (issue_id, status);
CREATE INDEX subscriber_events_subscriber ON subscriber_events (subscriber_id);

CREATE TABLE feeds (
    id                   INTEGER PRIMARY KEY,
    url                  TEXT    NOT NULL UNIQUE,
    name                 TEXT    NOT NULL DEFAULT '',
    section              TEXT    NOT NULL DEFAULT '',
    etag                 TEXT    NOT NULL DEFAULT '',
    last_modified        TEXT    NOT NULL DEFAULT '',
    created_at           INTEGER NOT NULL,
    last_fetched_at      INTEGER,
    last_success_at      INTEGER,
    last_error           TEXT    NOT NULL DEFAULT '',
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_fetch_at        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE feed_items (
    id            INTEGER PRIMARY KEY,
    feed_id       INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    identity      TEXT    NOT NULL, -- GUID, else normalised link, else content hash
    url           TEXT    NOT NULL DEFAULT '', -- normalised link
    title         TEXT    NOT NULL DEFAULT '',
    summary_html  TEXT    NOT NULL DEFAULT '', -- sanitised
    author        TEXT    NOT NULL DEFAULT '',
    published_at  INTEGER NOT NULL,
    first_seen_at INTEGER NOT NULL,
    -- 1 when the item was already in the feed when it was added: seen, never sent
    seen_on_add   INTEGER NOT NULL DEFAULT 0 CHECK (seen_on_add IN (0, 1)),
    UNIQUE (feed_id, identity)
);
CREATE INDEX feed_items_first_seen ON feed_items (first_seen_at);
CREATE INDEX feed_items_url ON feed_items (url);

CREATE TABLE issues (
    id              INTEGER PRIMARY KEY,
    number          INTEGER NOT NULL CHECK (number > 0),
    subject         TEXT    NOT NULL DEFAULT '',
    intro           TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL CHECK (status IN ('draft', 'sending', 'sent', 'cancelled')),
    window_start    INTEGER NOT NULL, -- feed items first seen in [window_start, window_end)
    window_end      INTEGER NOT NULL,
    scheduled_for   INTEGER, -- the schedule slot this issue answers, when the daemon made it
    created_at      INTEGER NOT NULL,
    send_started_at INTEGER,
    sent_at         INTEGER,
    html            TEXT    NOT NULL DEFAULT '', -- rendered body, frozen when sending starts
    text            TEXT    NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX issues_number ON issues (number) WHERE status <> 'cancelled';
CREATE UNIQUE INDEX issues_one_draft ON issues (status) WHERE status = 'draft';

CREATE TABLE links (
    id         INTEGER PRIMARY KEY,
    url        TEXT    NOT NULL, -- normalised
    title      TEXT    NOT NULL DEFAULT '',
    note       TEXT    NOT NULL DEFAULT '',
    section    TEXT    NOT NULL DEFAULT '',
    position   INTEGER NOT NULL, -- the editor's order among queued links
    created_at INTEGER NOT NULL,
    issue_id   INTEGER REFERENCES issues (id) -- set when the issue carrying it is sent
);
CREATE UNIQUE INDEX links_queued_url ON links (url) WHERE issue_id IS NULL;
CREATE INDEX links_issue ON links (issue_id, position);

-- issue_items is a copy: later edits of links or feeds never change an issue.
CREATE TABLE issue_items (
    id           INTEGER PRIMARY KEY,
    issue_id     INTEGER NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('link', 'feed')),
    section      TEXT    NOT NULL DEFAULT '',
    title        TEXT    NOT NULL,
    url          TEXT    NOT NULL,
    note         TEXT    NOT NULL DEFAULT '', -- the editor's note, for links
    feed_name    TEXT    NOT NULL DEFAULT '',
    excerpt_html TEXT    NOT NULL DEFAULT '', -- sanitised, for feed items
    link_id      INTEGER REFERENCES links (id) ON DELETE SET NULL,
    feed_item_id INTEGER REFERENCES feed_items (id) ON DELETE SET NULL,
    UNIQUE (issue_id, position)
);

-- deliveries is the send ledger: one row per (issue, subscriber), made when sending starts.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    issue_id        INTEGER NOT NULL REFERENCES issues (id),
    subscriber_id   INTEGER REFERENCES subscribers (id) ON DELETE SET NULL,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'retry', 'sent', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    smtp_code       INTEGER NOT NULL DEFAULT 0,
    reply           TEXT    NOT NULL DEFAULT '', -- the server's last reply
    sent_at         INTEGER,
    updated_at      INTEGER NOT NULL,
    UNIQUE (issue_id, subscriber_id)
);
CREATE INDEX deliveries_due ON deliveries (issue_id, status, next_attempt_at);

-- A subscriber who leaves, bounces or is removed while an issue is sending is skipped
-- if their copy has not gone yet. Doing it here keeps every path (CLI, web, bounce) right.
CREATE TRIGGER subscribers_left AFTER UPDATE OF status ON subscribers
WHEN NEW.status <> 'active'
BEGIN
    UPDATE deliveries SET status = 'skipped', updated_at = NEW.status_changed_at
    WHERE subscriber_id = NEW.id AND status IN ('pending', 'retry');
END;

CREATE TRIGGER subscribers_removed BEFORE DELETE ON subscribers
BEGIN
    UPDATE deliveries SET status = 'skipped', updated_at = CAST(unixepoch('subsec') * 1000 AS INTEGER)
    WHERE subscriber_id = OLD.id AND status IN ('pending', 'retry');
END;
