package puller

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// Sink stores received payloads (the shape of ingest.Sink).
type Sink interface {
	Save(ctx context.Context, batch []ocpi.Received) ([]ocpi.Outcome, error)
}

// Checkpoint is where a pull of one module from one partner stands.
type Checkpoint struct {
	// Watermark is the date_to of the last completed window.
	Watermark time.Time
	// NextURL is the next page of an unfinished crawl, verbatim.
	NextURL string
	// WindowTo is the date_to of the window being crawled.
	WindowTo time.Time
	// Pages counts the pages stored over all pulls.
	Pages int64
}

// Checkpoints keeps pull checkpoints per partner and module.
type Checkpoints interface {
	Checkpoint(ctx context.Context, partnerID int64, module string) (Checkpoint, error)
	SaveCheckpoint(ctx context.Context, partnerID int64, module string, cp Checkpoint) error
}

// Puller pulls objects from partners.
type Puller struct {
	Client      *Client
	Sink        Sink
	Checkpoints Checkpoints
	// PageLimit is the limit asked for (the partner may cap it; default 100).
	PageLimit int
	// MaxPages bounds one pull (default 100,000).
	MaxPages int
	// Full starts over: it drops an unfinished crawl's checkpoint and
	// ignores the stored watermark, so the pull asks for everything (unless
	// since is given) and a tariff pull is complete.
	Full bool
	// Tariffs, when set, lets a complete tariff pull (no date_from, not
	// resumed, every page fetched) withdraw the stored tariffs the Sender
	// no longer returned.
	Tariffs Tariffs
	// Hubs, when set, lets a pull from a hub first reread the hub's client
	// list (hubclientinfo), so the objects of a party that joined the hub
	// since the last pull are accepted.
	Hubs HubStore
	Now  func() time.Time
	Log  *slog.Logger
}

// Stats summarises one pull.
type Stats struct {
	Pages    int
	Objects  int
	Outcomes map[ocpi.Outcome]int
	// Ignored counts the objects owned by a party the connection does not
	// serve; Foreign counts them by owner ("CC-PID"). They reach the Sink as
	// rejects (owner), so their raw bytes are kept, and are counted in
	// Outcomes as rejected too.
	Ignored    int
	Foreign    map[string]int
	TotalCount int // the last X-Total-Count seen, -1 when absent
	Limit      int // the last X-Limit seen, -1 when absent
	Resumed    bool
	// Withdrawn counts the stored tariffs a complete pull withdrew.
	Withdrawn int
	// Complete says the pull was a complete tariff list (see Puller.Tariffs).
	Complete bool
	// Incomplete says why a tariff pull that started as a complete list
	// withdrew nothing (resumed, objects refused, an item without identity).
	Incomplete string
	// HubClients is the number of parties a hub fronts, as used by this
	// pull (-1 for a connection that is not a hub); HubRefresh says why the
	// list could not be reread (the stored one was used), HubSkipped lists
	// entries of the list that were not valid ClientInfo objects.
	HubClients int
	HubRefresh error
	HubSkipped []string
}

// Refused counts the objects the pull did not store: owned by a party the
// connection does not serve, rejected, or in conflict with a stored CDR.
func (st Stats) Refused() int {
	return st.Outcomes[ocpi.OutcomeRejected] + st.Outcomes[ocpi.OutcomeConflict]
}

// ModuleKind maps a pullable module to the object kind it serves.
func ModuleKind(module string) (ocpi.Kind, bool) {
	switch module {
	case ocpi.ModuleCDRs:
		return ocpi.KindCDR, true
	case ocpi.ModuleTariffs:
		return ocpi.KindTariff, true
	case ocpi.ModuleLocations:
		return ocpi.KindLocation, true
	}
	return "", false
}

// Pull fetches a module from the partner's Sender interface. It resumes an
// unfinished crawl from its checkpoint; otherwise it asks for the window
// from since (or the stored watermark when since is zero) to now.
func (p *Puller) Pull(ctx context.Context, conn ocpi.Connection, token, module string, since time.Time) (Stats, error) {
	st := Stats{Outcomes: map[ocpi.Outcome]int{}, Foreign: map[string]int{}, TotalCount: -1, Limit: -1}
	kind, ok := ModuleKind(module)
	if !ok {
		return st, fmt.Errorf("pull: module %q: want cdrs, tariffs or locations", module)
	}
	endpoint, ok := ocpi.VersionDetails{Endpoints: conn.Endpoints}.Find(module, ocpi.InterfaceSender)
	if !ok {
		return st, fmt.Errorf("pull %s from %s: the partner publishes no %s sender endpoint", module, conn.Party(), module)
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	limit := p.PageLimit
	if limit <= 0 {
		limit = 100
	}
	maxPages := p.MaxPages
	if maxPages <= 0 {
		maxPages = 100_000
	}
	st.HubClients = -1
	if conn.IsHub() {
		if p.Hubs != nil {
			refreshed, skipped, err := RefreshHub(ctx, p.Client, p.Hubs, conn, token, now())
			st.HubSkipped = skipped
			if err != nil {
				st.HubRefresh = err
			} else {
				conn = refreshed
			}
		}
		st.HubClients = len(conn.HubClients)
	}
	cp, err := p.Checkpoints.Checkpoint(ctx, conn.ID, module)
	if err != nil {
		return st, err
	}
	next := cp.NextURL
	if p.Full {
		// Starting over: the unfinished crawl's remaining pages are part of
		// the new window.
		next = ""
	}
	if next != "" {
		st.Resumed = true
		if module == ocpi.ModuleTariffs {
			st.Incomplete = "resumed an unfinished pull, so the list is not complete in this run (pull --full starts over)"
		}
	} else {
		from := since
		if from.IsZero() && !p.Full {
			from = cp.Watermark
		}
		st.Complete = module == ocpi.ModuleTariffs && from.IsZero()
		cp.WindowTo = now().UTC().Truncate(time.Second)
		next = windowURL(endpoint, from, cp.WindowTo, limit)
	}
	// returned holds the identity of every tariff the Sender listed, ours
	// or not, decodable or not; an item without one leaves the pull
	// incomplete, since the tariff it names cannot be told.
	returned := map[string]bool{}
	auth := ocpi.AuthorizationHeader(token, conn.AuthMode, conn.Version)
	hint := ocpi.Hint{Kind: kind, Version: conn.Version}
	if conn.Version == ocpi.V211 {
		hint.CountryCode, hint.PartyID = conn.CountryCode, conn.PartyID
	}
	for page := 0; next != ""; page++ {
		if page >= maxPages {
			return st, fmt.Errorf("pull %s from %s: stopped after %d pages (checkpoint kept)", module, conn.Party(), maxPages)
		}
		resp, err := p.Client.Get(ctx, next, auth, nil)
		if err != nil {
			return st, fmt.Errorf("pull %s from %s: %w (checkpoint kept at the page before)", module, conn.Party(), err)
		}
		var items []json.RawMessage
		if len(resp.Envelope.Data) > 0 {
			if err := json.Unmarshal(resp.Envelope.Data, &items); err != nil {
				return st, fmt.Errorf("pull %s from %s: %s: data is not a list: %w", module, conn.Party(), next, err)
			}
		}
		st.TotalCount = headerInt(resp.Header.Get("X-Total-Count"))
		st.Limit = headerInt(resp.Header.Get("X-Limit"))
		batch := make([]ocpi.Received, 0, len(items))
		at := now().UTC()
		offset := int64(headerInt(queryOf(next, "offset")))
		for i, raw := range items {
			r := ocpi.Received{Source: ocpi.Source{Channel: ocpi.ChannelPull, Name: next, Partner: conn.Party(),
				Position: max(offset, 0) + int64(i)}, ReceivedAt: at, Raw: []byte(raw), SHA256: sha256.Sum256(raw)}
			ocpi.DecodeReceived(&r, hint)
			if st.Complete {
				if cc, pid, id := r.Identity(); cc != "" && pid != "" && id != "" {
					returned[objectKey(cc, pid, id)] = true
				} else {
					st.Complete = false
					st.Incomplete = fmt.Sprintf("item %d of %s has no country_code, party_id or id", r.Source.Position, next)
				}
			}
			if cc, pid, _ := r.Identity(); cc != "" && !conn.MayWriteFor(cc, pid) {
				st.Ignored++
				st.Foreign[ocpi.PartyKey(cc, pid)]++
				refuseOwner(&r, conn, cc, pid)
				if st.Complete {
					// A filtered list says nothing reliable about the
					// parties it was filtered for: withdraw nothing.
					st.Complete = false
					st.Incomplete = "objects of parties this connection does not serve were refused, so the list was filtered"
				}
			}
			batch = append(batch, r)
		}
		if len(batch) > 0 {
			outs, err := p.Sink.Save(ctx, batch)
			if err != nil {
				return st, fmt.Errorf("pull %s from %s: store: %w (checkpoint kept at the page before)", module, conn.Party(), err)
			}
			for _, o := range outs {
				st.Outcomes[o]++
			}
		}
		st.Pages++
		st.Objects += len(items)
		cp.Pages++
		link, more := ocpi.NextLink(resp.Header.Get("Link"))
		if more && link == next {
			return st, fmt.Errorf("pull %s from %s: the Link header points at the same page %s", module, conn.Party(), next)
		}
		if more {
			cp.NextURL = link
		} else {
			cp.NextURL, cp.Watermark = "", cp.WindowTo
		}
		if err := p.Checkpoints.SaveCheckpoint(ctx, conn.ID, module, cp); err != nil {
			return st, err
		}
		if p.Log != nil {
			p.Log.Debug("pulled page", "partner", conn.Party(), "module", module, "objects", len(items),
				"total_count", st.TotalCount, "limit", st.Limit)
		}
		next = ""
		if more {
			next = link
		}
	}
	if st.Complete && p.Tariffs != nil {
		n, err := p.withdrawUnreturned(ctx, conn, returned, cp.WindowTo)
		st.Withdrawn = n
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// refuseOwner turns an object owned by a party the connection does not
// serve into a reject (rule owner): its raw bytes are kept, nothing of it is
// stored as an object.
func refuseOwner(r *ocpi.Received, conn ocpi.Connection, cc, pid string) {
	why := "owned by " + ocpi.PartyKey(cc, pid) + ", which is not a party of " + conn.Party()
	if conn.IsHub() {
		why += " (the hub does not front it: see its hubclientinfo)"
	}
	r.Problems = append(ocpi.Problems{{Path: "country_code/party_id", Rule: ocpi.RuleOwner, Message: why, Blocking: true}}, r.Problems...)
	r.Rejected = true
	r.CDR, r.Tariff, r.Location, r.Invoice = nil, nil, nil, nil
}

func windowURL(endpoint string, from, to time.Time, limit int) string {
	q := url.Values{}
	if !from.IsZero() {
		q.Set("date_from", ocpi.FormatDateTime(from))
	}
	q.Set("date_to", ocpi.FormatDateTime(to))
	q.Set("limit", strconv.Itoa(limit))
	sep := "?"
	if u, err := url.Parse(endpoint); err == nil && u.RawQuery != "" {
		sep = "&"
	}
	return endpoint + sep + q.Encode()
}

func queryOf(raw, key string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Query().Get(key)
}

func headerInt(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}
