package receiver

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// memStore is an in-memory Sink, PartnerStore and Objects with the store's
// outcome rules (identity, then same or different body).
type memStore struct {
	mu        sync.Mutex
	saves     int
	records   []ocpi.Received
	objects   map[string][32]byte // kind*identity*last_updated -> raw sha
	cdrRaw    map[string][]byte
	locations map[string]*ocpi.Location
	tariffRaw map[string][]byte
	withdrawn []string
	// withdrawals of tariffs and invoice records by kind*identity.
	withdrawnAt map[string]time.Time
	invoiceRaw  map[string][]byte
	partners    []ocpi.Connection
}

func newMemStore() *memStore {
	return &memStore{objects: map[string][32]byte{}, cdrRaw: map[string][]byte{},
		locations: map[string]*ocpi.Location{}, tariffRaw: map[string][]byte{},
		withdrawnAt: map[string]time.Time{}, invoiceRaw: map[string][]byte{}}
}

func (m *memStore) Save(_ context.Context, batch []ocpi.Received) ([]ocpi.Outcome, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saves++
	out := make([]ocpi.Outcome, len(batch))
	for i, r := range batch {
		m.records = append(m.records, r)
		cc, pid, id := r.Identity()
		if r.Rejected || id == "" {
			out[i] = ocpi.OutcomeRejected
			continue
		}
		key := string(r.Kind) + "*" + cc + "*" + pid + "*" + id
		if r.Tariff != nil {
			key += "*" + r.Tariff.LastUpdated.String()
		}
		if r.Location != nil {
			key += "*" + r.Location.LastUpdated.String()
		}
		sum := sha256.Sum256(r.Raw)
		if r.Location != nil { // patches differ in raw but are new versions
			sum = sha256.Sum256([]byte(r.Location.LastUpdated.String()))
		}
		if prev, ok := m.objects[key]; ok {
			if prev == sum {
				out[i] = ocpi.OutcomeDuplicate
			} else {
				out[i] = ocpi.OutcomeConflict
			}
			continue
		}
		m.objects[key] = sum
		out[i] = ocpi.OutcomeAccepted
		idk := cc + "*" + pid + "*" + id
		switch {
		case r.CDR != nil:
			m.cdrRaw[idk] = r.Raw
		case r.Location != nil:
			l := *r.Location
			l.EVSEs = append([]ocpi.EVSE(nil), l.EVSEs...)
			for j := range l.EVSEs {
				l.EVSEs[j].Connectors = append([]ocpi.Connector(nil), l.EVSEs[j].Connectors...)
			}
			m.locations[idk] = &l
		case r.Tariff != nil:
			m.tariffRaw[idk] = r.Raw
		case r.Invoice != nil:
			m.invoiceRaw[idk] = r.Raw
		}
	}
	return out, nil
}

func (m *memStore) count(kind ocpi.Kind) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k := range m.objects {
		if strings.HasPrefix(k, string(kind)+"*") {
			n++
		}
	}
	return n
}

func (m *memStore) received() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.records)
}

func (m *memStore) Partners(context.Context) ([]ocpi.Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]ocpi.Connection(nil), m.partners...), nil
}

func (m *memStore) UpdatePartner(_ context.Context, c ocpi.Connection) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.partners {
		if m.partners[i].ID == c.ID {
			m.partners[i] = c
			return nil
		}
	}
	return ErrNotFound
}

func (m *memStore) partner(id int64) ocpi.Connection {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.partners {
		if p.ID == id {
			return p
		}
	}
	return ocpi.Connection{}
}

func (m *memStore) CDRRaw(_ context.Context, cc, pid, id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	raw, ok := m.cdrRaw[ocpi.Key(cc)+"*"+ocpi.Key(pid)+"*"+ocpi.Key(id)]
	if !ok {
		return nil, ErrNotFound
	}
	return raw, nil
}

func (m *memStore) LatestLocation(_ context.Context, cc, pid, id string) (*ocpi.Location, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.locations[ocpi.Key(cc)+"*"+ocpi.Key(pid)+"*"+ocpi.Key(id)]
	if !ok {
		return nil, ErrNotFound
	}
	c := *l
	c.EVSEs = append([]ocpi.EVSE(nil), l.EVSEs...)
	for j := range c.EVSEs {
		c.EVSEs[j].Connectors = append([]ocpi.Connector(nil), c.EVSEs[j].Connectors...)
	}
	return &c, nil
}

func (m *memStore) LatestTariffRaw(_ context.Context, cc, pid, id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	raw, ok := m.tariffRaw[ocpi.Key(cc)+"*"+ocpi.Key(pid)+"*"+ocpi.Key(id)]
	if !ok {
		return nil, ErrNotFound
	}
	return raw, nil
}

func (m *memStore) WithdrawTariff(_ context.Context, cc, pid, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.withdrawn = append(m.withdrawn, ocpi.PartyKey(cc, pid)+"*"+id)
	m.withdrawnAt["tariff*"+ocpi.PartyKey(cc, pid)+"*"+ocpi.Key(id)] = at
	return nil
}

func (m *memStore) withdrawal(kind, cc, pid, id string) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	at, ok := m.withdrawnAt[kind+"*"+ocpi.PartyKey(cc, pid)+"*"+ocpi.Key(id)]
	return at, ok, nil
}

func (m *memStore) TariffWithdrawnAt(_ context.Context, cc, pid, id string) (time.Time, bool, error) {
	return m.withdrawal("tariff", cc, pid, id)
}

func (m *memStore) LatestInvoiceRaw(_ context.Context, cc, pid, id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	raw, ok := m.invoiceRaw[ocpi.Key(cc)+"*"+ocpi.Key(pid)+"*"+ocpi.Key(id)]
	if !ok {
		return nil, ErrNotFound
	}
	return raw, nil
}

func (m *memStore) WithdrawInvoice(_ context.Context, cc, pid, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.withdrawnAt["invoice*"+ocpi.PartyKey(cc, pid)+"*"+ocpi.Key(id)] = at
	return nil
}

func (m *memStore) InvoiceWithdrawnAt(_ context.Context, cc, pid, id string) (time.Time, bool, error) {
	return m.withdrawal("invoice", cc, pid, id)
}

// plainSealer "seals" by prefixing: enough to check the token went through it.
type plainSealer struct{}

func (plainSealer) Seal(token string) ([]byte, error) { return []byte("sealed:" + token), nil }

// fakePartner is a partner platform's versions and details endpoints that
// accept only its token B.
func fakePartner(t *testing.T, version ocpi.Version, tokenB string, mode ocpi.AuthMode) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != ocpi.AuthorizationHeader(tokenB, mode, version) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var data any
		switch r.URL.Path {
		case "/versions":
			data = []ocpi.VersionInfo{{Version: version, URL: srv.URL + "/details"}}
		case "/details":
			data = ocpi.VersionDetails{Version: version, Endpoints: []ocpi.Endpoint{
				{Identifier: "credentials", Role: "RECEIVER", URL: srv.URL + "/credentials"},
				{Identifier: "cdrs", Role: "SENDER", URL: srv.URL + "/cdrs"}}}
		default:
			w.WriteHeader(http.StatusNotFound)
			return
		}
		body, _ := ocpi.MarshalEnvelope(data, ocpi.StatusSuccess, "", time.Now())
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (m *memStore) SaveHubClients(_ context.Context, id int64, clients []ocpi.ClientInfo, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.partners {
		if m.partners[i].ID == id {
			m.partners[i].HubClients, m.partners[i].HubClientsAt = clients, at
			return nil
		}
	}
	return ErrNotFound
}
