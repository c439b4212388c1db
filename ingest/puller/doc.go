// Package puller is roamsettle's OCPI client side: Connect runs the
// credentials handshake that roamsettle starts (token A in, versions and
// endpoints discovered, our token issued, theirs received), and Pull fetches
// CDRs, tariffs and locations from a partner's Sender interface page by page.
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
//   - Objects owned by parties the connection does not serve are dropped and
//     counted, never stored (digest 1.6, client-owned object pull).
//   - GETs are retried on 5xx, 429 and network errors with exponential
//     backoff and jitter, a bounded number of times; pushes are never
//     replayed (digest 1.10).
//   - A complete tariff pull (no date_from: the first pull or Full, not
//     resumed, every page fetched, every listed item identifiable) replaces
//     the stored list (digest 4.1): each live stored tariff of the
//     connection's parties that the Sender did not list, and whose newest
//     version is older than the pull's date_to, is withdrawn at that date_to
//     through Tariffs. Versions stay. Any other pull withdraws nothing.
//   - The package imports no database: Sink, Checkpoints, Tariffs and
//     Partners are interfaces wired by cmd/roamsettle.
package puller
