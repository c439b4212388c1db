-- 0005: the parties a hub fronts (OCPI 2.2.1 hubclientinfo), per partner.
--   * hub_clients is the JSON list of ClientInfo objects
--     [{"country_code","party_id","role","status","last_updated"}], as last
--     read from the hub's hubclientinfo Sender or pushed to our receiver;
--     hub_clients_at is when. A hub connection may write objects owned by
--     any party in it (DESIGN invariant 9).
ALTER TABLE partners ADD COLUMN hub_clients VARCHAR;
ALTER TABLE partners ADD COLUMN hub_clients_at TIMESTAMPTZ;
