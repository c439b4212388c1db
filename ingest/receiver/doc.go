// Package receiver is roamsettle's OCPI HTTP server, the eMSP side of
// OCPI 2.1.1, 2.2.1 and 2.3.0: the versions and version details endpoints,
// the credentials module (registration, update and rotation, unregister),
// and the receivers of CDRs, tariffs, locations and 2.3.0 invoice
// reconciliation records, plus /metrics and /health.
//
// Invariants:
//
//   - Everything received goes the file-import way: the raw body and its
//     SHA-256 first, then ocpi.DecodeReceived with a Hint carrying the kind,
//     the version from the URL and the owner the connection may write for,
//     then the Sink. A payload is acknowledged (1000, 201 or 200) only after
//     the batch holding it committed.
//   - Requests that never reached the OCPI layer change nothing: an unknown,
//     missing or dead token (401), a body over the limit (413, counting the
//     bytes actually read), malformed JSON (400), a path identifier that
//     breaks OCPI's lengths or characters, or an object owned by a party the
//     connection may not write for, are answered without touching the Sink.
//   - A partner only writes objects of its own country code and party id, or
//     for a hub the parties it registered (2.2+ routing headers must name one
//     of them); a token A opens only versions and credentials.
//   - Tokens are compared by SHA-256 only; the receiver never holds a token
//     it issued. Authorization headers and credentials bodies never reach a
//     log line.
//   - A GET of a tariff or of an invoice reconciliation record returns the
//     raw body of its newest version (highest last_updated) exactly as it
//     was received, so the owner compares its own copy with what we hold; it
//     answers 404 with 2003 when nothing is stored or when a withdrawal was
//     recorded at or after that version's last_updated (puller.Withdrawn: a
//     later PUT brings it back). Same owner scoping as PUT.
//   - DELETE of a tariff or invoice reconciliation record records a
//     withdrawal; no version is ever removed (CDRs are re-priced and
//     invoices matched against them).
//   - Concurrent CDR POSTs are group-committed: one goroutine collects what
//     queued while the previous Save ran (up to BatchMax records, lingering
//     at most BatchWait) and calls Sink.Save once for all of them.
//
// The package imports no database: Sink, PartnerStore and Objects are small
// interfaces that cmd/roamsettle wires to the store.
package receiver
