// Package puller is roamsettle's OCPI client side: Connect runs the
// credentials handshake that roamsettle starts (token A in, versions and
// endpoints discovered, our token issued, theirs received, the partner's
// party and role taken from its credentials), Pull fetches CDRs, tariffs and
// locations from a partner's Sender interface page by page, and HubClients
// reads the parties a hub fronts.
//
// Invariants:
//
//   - Pages are followed through the Link header verbatim, never rebuilt;
//     X-Total-Count and X-Limit are read and reported.
//   - A page reaches the Sink the file-import way (raw bytes and SHA-256
//     first, then ocpi.DecodeReceived with the connection's version and, for
//     2.1.1, its party as owner), and the checkpoint moves past it only after
//     the Sink stored it: a crash resumes at the first page not stored. A
//     crash between the two replays one page, which the store acknowledges
//     as duplicates.
//   - Objects owned by parties the connection does not serve are never
//     stored as objects (digest 1.6, client-owned object pull): they reach
//     the Sink as owner rejects, raw bytes kept, and are counted by owner.
//   - A hub serves the parties its hubclientinfo lists (DESIGN invariant 9):
//     a pull from a hub first rereads that list (Hubs), and uses the stored
//     one, saying so, when it cannot.
//   - GETs are retried on 5xx, 429 and network errors with exponential
//     backoff and jitter, a bounded number of times; a Retry-After (seconds
//     or HTTP date) on 429 or 503 is waited instead, within MaxWait over all
//     tries of one GET; pushes are never replayed (digest 1.10).
//   - Full starts over: it drops an unfinished crawl instead of resuming it.
//   - A complete tariff pull (no date_from: the first pull or Full, not
//     resumed, every page fetched, every listed item identifiable, nothing
//     refused as another party's: a filtered list is never complete) replaces
//     the stored list (digest 4.1): each live stored tariff of the
//     connection's parties that the Sender did not list, and whose newest
//     version is older than the pull's date_to, is withdrawn at that date_to
//     through Tariffs. Versions stay. Any other pull withdraws nothing.
//   - The package imports no database: Sink, Checkpoints, Tariffs and
//     Partners are interfaces wired by cmd/roamsettle.
package puller
