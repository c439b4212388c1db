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
//   - Requests refused before the OCPI layer store no object: an unknown,
//     missing or dead token (401) touches nothing; for an authenticated
//     partner, a body over the limit (413, counting the bytes actually
//     read), malformed JSON or nesting too deep (400), a path identifier
//     that breaks OCPI's lengths or characters, or an object owned by a party
//     the connection may not write for, is answered and its body kept as a
//     reject with the rule of the answer, cut at MaxRefusedRaw (DESIGN
//     invariant 2); so is a change (PATCH, EVSE or connector PUT) to an
//     object that is not stored or that cannot be applied. Credentials
//     bodies are never kept (they carry tokens).
//   - Changes merged by the receiver itself read text as the decoder does:
//     a byte that is not UTF-8 is kept written \xHH with an encoding
//     finding (encoding/json would make it U+FFFD without a word), and an
//     EVSE's or connector's problems name the path where it goes in the
//     stored location, each once.
//   - A partner only writes objects of its own country code and party id, of
//     the parties its credentials list, or for a hub the parties its
//     hubclientinfo lists (DESIGN invariant 9; 2.2+ routing headers must name
//     one of them; without them a hub's object is checked by its own owner).
//     A hub pushes its client list to the hubclientinfo receiver, and serve
//     reads it once when the hub registers. A token A opens only versions and
//     credentials.
//   - Every answer is an OCPI envelope, 404 and 405 (with Allow) included.
//   - A CDR's Location escapes every segment, so an id OCPI does not allow
//     (stored with a finding) can still be read back; a GET looks up any id.
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
//     at most BatchWait) and calls Sink.Save once for all of them. If that
//     Save fails, each member is saved alone, so one payload the store
//     refuses fails only its own request (issue 12 item 6).
//
// The package imports no database: Sink, PartnerStore and Objects are small
// interfaces that cmd/roamsettle wires to the store.
package receiver
