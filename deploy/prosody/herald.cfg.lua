-- Prosody (0.12) snippet: attach Herald as an external component (XEP-0114).
-- Put it at the end of /etc/prosody/prosody.cfg.lua (Component sections must
-- come after the global section and VirtualHosts), or in
-- /etc/prosody/conf.d/herald.cfg.lua, then `prosodyctl reload`.

-- Global section: where components connect. Loopback only when Herald runs
-- on the same host; otherwise list the interface Herald reaches and firewall
-- the port (the component protocol is plain TCP with a shared secret).
component_ports = { 5347 }
component_interfaces = { "127.0.0.1" }

-- Largest stanza Prosody accepts from a component (default 512 KiB). Keep it
-- in line with Herald's server.max_stanza_size, so a payload one side accepts
-- is not cut off by the other.
-- component_stanza_size_limit = 512 * 1024

-- The domain Herald serves: must equal server.domain in herald.yaml, and
-- the secret must equal server.secret (or the content of server.secret_file).
Component "pubsub.example.org"
    component_secret = "change-me-long-random-secret"
    -- Prosody accepts ONE connection per component domain: a second Herald
    -- (or server.links > 1) is refused with <conflict/>. Use ejabberd for
    -- several links, or run one Herald per domain.

-- Do not also declare `Component "pubsub.example.org" "pubsub"` (Prosody's own
-- pubsub): a domain is either an external component or an internal module.

-- Rate limits (mod_limits) apply to c2s/s2s, not to components; a busy
-- pubsub service is limited by how fast Prosody routes (see README).
