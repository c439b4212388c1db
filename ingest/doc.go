// Package ingest brings OCPI objects into roamsettle: file import here, the
// OCPI HTTP receiver in ingest/receiver and the puller (handshake and pull
// client) in ingest/puller. Every path ends in the same place: a payload
// becomes an ocpi.Received (raw bytes and SHA-256 first, then the decoded
// object and its problems) and is handed to a Sink in batches.
//
// Invariants:
//
//   - Nothing read is lost: every record found in the input reaches the Sink,
//     decoded or rejected, with its raw bytes (a record over MaxLineBytes
//     is rejected as too large and keeps its first KeepBytes under their
//     own SHA-256; its problem names its byte offset, its full length and
//     the SHA-256 of all of it; the file is the original). Raw and SHA256
//     of a Received always agree.
//   - One bad record never aborts a file: it is rejected with its reason and
//     the rest go on. Only an infrastructure failure (the Sink's error, a read
//     error) stops an import.
//   - Input is streamed: memory is bounded by the batch size and the pipeline
//     depth, not by the size of the file. An NDJSON line or a top-level JSON
//     value that is not an OCPI response page is never held whole beyond
//     MaxLineBytes.
//   - Records reach the Sink in input order, so the first of two copies of an
//     object is the one that counts, on every run.
//   - The package imports no database driver and no HTTP server: storage is
//     the Sink interface, wired in by cmd/roamsettle.
package ingest
