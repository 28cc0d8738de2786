-- Herald schema, version 1.
-- Migrations are forward-only: never edit a released file, add NNN_*.sql.
-- storage/migrate.c runs each file in its own transaction and records it in
-- schema_version (which it creates itself, before any file runs).
-- Index notes name the statement of storage/stmts.c each index serves.

-- Pubsub nodes. owner_jid scopes names: '' is the service itself, a bare JID
-- is that account's PEP service, so PEP nodes of different JIDs never collide.
CREATE TABLE nodes (
    id                      bigserial PRIMARY KEY,
    owner_jid               text NOT NULL DEFAULT '',
    name                    text NOT NULL,
    creator                 text NOT NULL DEFAULT '',
    created_at              timestamptz NOT NULL DEFAULT now(),
    -- Bumped by every configuration or affiliation change: lets another
    -- herald process tell that its cached copy of the node is stale.
    version                 bigint NOT NULL DEFAULT 1,
    -- XEP-0060 node configuration honoured by Herald (pubsub#...)
    title                   text NOT NULL DEFAULT '',
    description             text NOT NULL DEFAULT '',
    payload_type            text NOT NULL DEFAULT '',              -- pubsub#type
    max_items               integer CHECK (max_items >= 0),        -- NULL = "max"
    max_payload_size        integer NOT NULL DEFAULT 0 CHECK (max_payload_size >= 0),
    persist_items           boolean NOT NULL DEFAULT true,
    deliver_payloads        boolean NOT NULL DEFAULT true,
    deliver_notifications   boolean NOT NULL DEFAULT true,
    notify_retract          boolean NOT NULL DEFAULT true,
    notify_delete           boolean NOT NULL DEFAULT true,
    send_last_published_item text NOT NULL DEFAULT 'never'
        CHECK (send_last_published_item IN ('never', 'on_sub', 'on_sub_and_presence')),
    access_model            text NOT NULL DEFAULT 'open'
        CHECK (access_model IN ('open', 'presence', 'roster', 'authorize', 'whitelist')),
    publish_model           text NOT NULL DEFAULT 'publishers'
        CHECK (publish_model IN ('publishers', 'subscribers', 'open')),
    notification_type       text NOT NULL DEFAULT 'headline'
        CHECK (notification_type IN ('headline', 'normal')),
    -- Any other configuration field: {"pubsub#field": "value", ...}
    extra                   jsonb NOT NULL DEFAULT '{}'::jsonb
        CHECK (jsonb_typeof(extra) = 'object'),
    -- node get / create conflict / list by owner (keyset on name)
    CONSTRAINT nodes_owner_name UNIQUE (owner_jid, name)
);

CREATE TABLE affiliations (
    node_id     bigint NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    jid         text NOT NULL,
    affiliation text NOT NULL
        CHECK (affiliation IN ('owner', 'publisher', 'publish-only', 'member', 'outcast')),
    PRIMARY KEY (node_id, jid)          -- get, set, list per node, cascade
);
CREATE INDEX affiliations_jid ON affiliations (jid);   -- list per JID (§5.7)

-- Global change sequence for rows without a node-level version bump.
CREATE SEQUENCE change_seq;

CREATE TABLE subscriptions (
    node_id     bigint NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    jid         text NOT NULL,
    subid       text NOT NULL DEFAULT '',
    state       text NOT NULL
        CHECK (state IN ('none', 'pending', 'unconfigured', 'subscribed')),
    options     jsonb NOT NULL DEFAULT '{}'::jsonb
        CHECK (jsonb_typeof(options) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    changed_seq bigint NOT NULL DEFAULT nextval('change_seq'),
    -- set/delete, and paging a node's subscribers by (jid, subid)
    PRIMARY KEY (node_id, jid, subid)
);
CREATE INDEX subscriptions_jid ON subscriptions (jid);  -- list per JID (§5.6)

-- Items. seq orders them (newest = highest) and is the paging cursor;
-- a republished item takes a new seq.
CREATE SEQUENCE items_seq;
CREATE TABLE items (
    node_id     bigint NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    item_id     text NOT NULL,
    publisher   text NOT NULL DEFAULT '',
    payload     text,                                   -- XML; NULL = none
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    seq         bigint NOT NULL DEFAULT nextval('items_seq'),
    PRIMARY KEY (node_id, item_id)      -- upsert, retract, get by id
);
ALTER SEQUENCE items_seq OWNED BY items.seq;
-- newest N, paging by seq, trimming to max_items, purge
CREATE UNIQUE INDEX items_node_seq ON items (node_id, seq);

-- Presence subscriptions of the roster-less presence manager: `contact`
-- (a bare JID) is subscribed to the presence of `local_jid` (ours).
CREATE TABLE presence_subscriptions (
    local_jid   text NOT NULL,
    contact     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (local_jid, contact)    -- add, remove, list (keyset)
);

-- XEP-0115 verification string -> what disco#info answered for it.
CREATE TABLE caps (
    ver         text PRIMARY KEY,
    features    text[] NOT NULL DEFAULT '{}',
    identities  text[] NOT NULL DEFAULT '{}',           -- category/type/lang/name
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per running herald process: each write transaction also stores
-- its batch number here, so after a connection broke around COMMIT the
-- process can tell whether that transaction committed.
CREATE TABLE store_writers (
    id          bigserial PRIMARY KEY,
    batch       bigint NOT NULL DEFAULT 0,
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
