package receiver

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/roamsettle/roamsettle/ingest/puller"
	"github.com/roamsettle/roamsettle/ocpi"
)

// Sink stores received payloads: the same shape as ingest.Sink. Save returns
// one outcome per payload, in order; an error means nothing was stored.
type Sink interface {
	Save(ctx context.Context, batch []ocpi.Received) ([]ocpi.Outcome, error)
}

// PartnerStore keeps the partner connections and the parties a hub fronts.
type PartnerStore interface {
	Partners(ctx context.Context) ([]ocpi.Connection, error)
	UpdatePartner(ctx context.Context, c ocpi.Connection) error
	SaveHubClients(ctx context.Context, partnerID int64, clients []ocpi.ClientInfo, at time.Time) error
}

// ErrNotFound is what Objects return for an object that is not stored.
var ErrNotFound = errors.New("not found")

// Objects reads stored objects for GETs and PATCHes and records tariff and
// invoice reconciliation record withdrawals.
type Objects interface {
	// CDRRaw returns the raw body of a stored CDR.
	CDRRaw(ctx context.Context, countryCode, partyID, id string) ([]byte, error)
	// LatestLocation returns the newest stored version of a location.
	LatestLocation(ctx context.Context, countryCode, partyID, id string) (*ocpi.Location, error)
	// LatestTariffRaw returns the raw body of the newest stored version of a
	// tariff (for 2.1.1 PATCH).
	LatestTariffRaw(ctx context.Context, countryCode, partyID, id string) ([]byte, error)
	// WithdrawTariff records an OCPI DELETE of a tariff.
	WithdrawTariff(ctx context.Context, countryCode, partyID, id string, at time.Time) error
	// TariffWithdrawnAt returns the latest recorded withdrawal of a tariff,
	// if any.
	TariffWithdrawnAt(ctx context.Context, countryCode, partyID, id string) (time.Time, bool, error)
	// LatestInvoiceRaw returns the raw body of the newest stored version of
	// an invoice reconciliation record.
	LatestInvoiceRaw(ctx context.Context, countryCode, partyID, id string) ([]byte, error)
	// WithdrawInvoice records an OCPI DELETE of an invoice reconciliation
	// record; its versions stay.
	WithdrawInvoice(ctx context.Context, countryCode, partyID, id string, at time.Time) error
	// InvoiceWithdrawnAt returns the latest recorded withdrawal of an
	// invoice reconciliation record, if any.
	InvoiceWithdrawnAt(ctx context.Context, countryCode, partyID, id string) (time.Time, bool, error)
}

// Sealer encrypts the token a partner gave us (we need it in clear to call
// the partner, so it is sealed, never hashed).
type Sealer interface {
	Seal(token string) ([]byte, error)
}

// Config wires a Server.
type Config struct {
	// BaseURL is how partners reach us, e.g. https://settle.example.com;
	// the versions endpoint is BaseURL + "/ocpi/versions".
	BaseURL string
	// Self lists our own parties and roles, as sent in credentials.
	Self     []ocpi.CredentialsRole
	Sink     Sink
	Partners PartnerStore
	Objects  Objects
	Sealer   Sealer
	// Client calls partners during the credentials handshake.
	Client *puller.Client
	Log    *slog.Logger
	// MaxBody is the largest request body in bytes (default 1 MiB).
	MaxBody int64
	// BatchMax and BatchWait tune the CDR group commit (default 512
	// records, no lingering: what queues while a Save runs is the batch).
	BatchMax  int
	BatchWait time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Health adds parts to /health beside "status", by name (serve's
	// scheduler: "schedule"); each is encoded as JSON when asked.
	Health map[string]func() any
}

// Server is the OCPI receiver. Handler serves it; Close commits what is
// queued and stops the group commit (call it after http.Server.Shutdown).
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	handler http.Handler
	auth    *authCache
	batch   *batcher
	metrics *metrics
	// handshakeMu serialises credentials changes.
	handshakeMu sync.Mutex
	// background counts work started by a request that outlives it.
	background sync.WaitGroup
}

// New builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Sink == nil || cfg.Partners == nil || cfg.Objects == nil || cfg.Sealer == nil {
		return nil, errors.New("receiver: Sink, Partners, Objects and Sealer are required")
	}
	if cfg.BaseURL == "" {
		return nil, errors.New("receiver: BaseURL is required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.BatchMax <= 0 {
		cfg.BatchMax = 512
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Client == nil {
		cfg.Client = &puller.Client{Attempts: 2}
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), metrics: newMetrics()}
	s.auth = &authCache{store: cfg.Partners}
	if err := s.auth.reload(context.Background()); err != nil {
		return nil, err
	}
	s.batch = newBatcher(cfg.Sink, cfg.BatchWait, cfg.BatchMax, s.metrics.observeBatch)
	s.routes()
	s.handler = s.middleware(s.mux)
	return s, nil
}

// Handler serves every endpoint.
func (s *Server) Handler() http.Handler { return s.handler }

// Close waits for background work, commits what is queued and stops the
// group commit.
func (s *Server) Close() {
	s.background.Wait()
	s.batch.close()
}

// Registry is the private Prometheus registry behind /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// VersionsURL is the URL partners start from.
func (s *Server) VersionsURL() string { return s.cfg.BaseURL + "/ocpi/versions" }

// ReloadPartners rereads the partner connections (after a change made
// outside the server).
func (s *Server) ReloadPartners(ctx context.Context) error { return s.auth.reload(ctx) }

// Expect makes the server accept the token whose digest is conn.TokenC
// before the connection is stored: roamsettle starts a handshake, and the
// partner calls our versions endpoint back with that token before it
// answers (the party may not even be known yet). Only the versions and
// credentials GETs open with it, as for a token A.
func (s *Server) Expect(ctx context.Context, conn ocpi.Connection) error {
	c := conn
	s.auth.mu.Lock()
	if s.auth.expected == nil {
		s.auth.expected = map[[32]byte]authEntry{}
	}
	s.auth.expected[conn.TokenC] = authEntry{&c, tokenIssued}
	s.auth.mu.Unlock()
	return s.auth.reload(ctx)
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /health", s.health)
	m.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	m.HandleFunc("GET /ocpi/versions", s.ocpi("versions", authRegistration, s.versions))
	m.HandleFunc("GET /ocpi/{version}", s.ocpi("versions", authRegistration, s.details))
	m.HandleFunc("GET /ocpi/{version}/credentials", s.ocpi("credentials", authRegistration, s.getCredentials))
	m.HandleFunc("POST /ocpi/{version}/credentials", s.ocpi("credentials", authRegistration, s.postCredentials))
	m.HandleFunc("PUT /ocpi/{version}/credentials", s.ocpi("credentials", authRegistration, s.putCredentials))
	m.HandleFunc("DELETE /ocpi/{version}/credentials", s.ocpi("credentials", authRegistration, s.deleteCredentials))
	m.HandleFunc("POST /ocpi/{version}/cdrs", s.ocpi("cdrs", authFunctional, s.postCDR))
	m.HandleFunc("GET /ocpi/{version}/cdrs/{cc}/{pid}/{id}", s.ocpi("cdrs", authFunctional, s.getCDR))
	m.HandleFunc("GET /ocpi/{version}/tariffs/{cc}/{pid}/{id}", s.ocpi("tariffs", authFunctional, s.getTariff))
	m.HandleFunc("PUT /ocpi/{version}/tariffs/{cc}/{pid}/{id}", s.ocpi("tariffs", authFunctional, s.putTariff))
	m.HandleFunc("PATCH /ocpi/{version}/tariffs/{cc}/{pid}/{id}", s.ocpi("tariffs", authFunctional, s.patchTariff))
	m.HandleFunc("DELETE /ocpi/{version}/tariffs/{cc}/{pid}/{id}", s.ocpi("tariffs", authFunctional, s.deleteTariff))
	for _, p := range []string{"/{cc}/{pid}/{id}", "/{cc}/{pid}/{id}/{evse}", "/{cc}/{pid}/{id}/{evse}/{connector}"} {
		m.HandleFunc("PUT /ocpi/{version}/locations"+p, s.ocpi("locations", authFunctional, s.putLocation))
		m.HandleFunc("PATCH /ocpi/{version}/locations"+p, s.ocpi("locations", authFunctional, s.patchLocation))
	}
	m.HandleFunc("POST /ocpi/{version}/invoicereconciliation", s.ocpi("invoicereconciliation", authFunctional, s.postInvoice))
	m.HandleFunc("GET /ocpi/{version}/invoicereconciliation/{cc}/{pid}/{id}", s.ocpi("invoicereconciliation", authFunctional, s.getInvoice))
	m.HandleFunc("PUT /ocpi/{version}/invoicereconciliation/{cc}/{pid}/{id}", s.ocpi("invoicereconciliation", authFunctional, s.putInvoice))
	m.HandleFunc("DELETE /ocpi/{version}/invoicereconciliation/{cc}/{pid}/{id}", s.ocpi("invoicereconciliation", authFunctional, s.deleteInvoice))
	m.HandleFunc("GET /ocpi/{version}/hubclientinfo/{cc}/{pid}", s.ocpi(ocpi.ModuleHubClientInfo, authFunctional, s.getClient))
	m.HandleFunc("PUT /ocpi/{version}/hubclientinfo/{cc}/{pid}", s.ocpi(ocpi.ModuleHubClientInfo, authFunctional, s.putClient))
	m.HandleFunc("PATCH /ocpi/{version}/hubclientinfo/{cc}/{pid}", s.ocpi(ocpi.ModuleHubClientInfo, authFunctional, s.patchClient))
	// Everything else under /ocpi/ gets an OCPI envelope: 405 with Allow for
	// a known path and another method, 404 for an unknown path.
	m.HandleFunc("/ocpi/", s.unrouted)
}

// unrouted answers a request no route took. ServeMux would answer a wrong
// method with a plain-text 405; OCPI wants its envelope on every answer.
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request) {
	c := &call{w: w, r: r, module: "other"}
	if rec, ok := w.(*recorder); ok {
		c.rec = rec
	}
	if len(s.allowed(r)) == 0 {
		s.fail(c, http.StatusNotFound, ocpi.StatusClientError, "", "", "no OCPI endpoint at "+r.URL.Path)
		return
	}
	s.notAllowed(c, "")
}

// allowed lists the methods a path answers. A tariff PATCH is routed in
// every version but exists only in 2.1.1 (PUT replaces a tariff since 2.2).
func (s *Server) allowed(r *http.Request) []string {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		_, pattern := s.mux.Handler(probe)
		if pattern == "/ocpi/" || pattern == "" ||
			m == http.MethodPatch && strings.Contains(pattern, "/tariffs/") && !strings.HasPrefix(r.URL.Path, "/ocpi/"+string(ocpi.V211)+"/") {
			continue
		}
		allowed = append(allowed, m)
	}
	return allowed
}

// notAllowed answers 405 with the Allow header HTTP requires (RFC 9110
// 15.5.6) and the methods in the message too, after why when given.
func (s *Server) notAllowed(c *call, why string) {
	allowed := strings.Join(s.allowed(c.r), ", ")
	c.w.Header().Set("Allow", allowed)
	msg := c.r.Method + " is not allowed here; allowed: " + allowed
	if why != "" {
		msg = why + "; allowed: " + allowed
	}
	s.fail(c, http.StatusMethodNotAllowed, ocpi.StatusClientError, "", "", msg)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if len(s.cfg.Health) == 0 {
		io.WriteString(w, `{"status":"ok"}`)
		return
	}
	body := map[string]any{"status": "ok"}
	for name, part := range s.cfg.Health {
		body[name] = part()
	}
	json.NewEncoder(w).Encode(body)
}

// call is one OCPI request being answered.
type call struct {
	w       http.ResponseWriter
	r       *http.Request
	rec     *recorder
	module  string
	version ocpi.Version
	conn    *ocpi.Connection
	token   tokenKind
	// presented is the token the caller authenticated with (to answer a
	// credentials GET; never logged).
	presented string
}

type authLevel int

const (
	authRegistration authLevel = iota // token A or the issued token
	authFunctional                    // only the issued token of a registered partner
)

// ocpi wraps an OCPI handler: version from the URL, authentication, and the
// module name for logs and metrics.
func (s *Server) ocpi(module string, level authLevel, h func(c *call)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec, _ := w.(*recorder)
		if rec != nil {
			rec.module = module
		}
		c := &call{w: w, r: r, rec: rec, module: module}
		if v := r.PathValue("version"); v != "" || r.URL.Path != "/ocpi/versions" {
			c.version = ocpi.Version(v)
			if !supported(c.version) || (module == "invoicereconciliation" && c.version != ocpi.V230) ||
				(module == ocpi.ModuleHubClientInfo && c.version == ocpi.V211) {
				s.fail(c, http.StatusNotFound, ocpi.StatusUnsupportedVersion, "", "", "unsupported OCPI version "+strconv.Quote(v)+" for "+module)
				return
			}
		}
		conn, kind, token, err := s.auth.authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			s.unauthorized(c, err.Error())
			return
		}
		if level == authFunctional && (kind != tokenIssued || !conn.Registered()) {
			s.unauthorized(c, "this token opens only the versions and credentials modules")
			return
		}
		c.conn, c.token, c.presented = conn, kind, token
		if rec != nil {
			rec.partner = conn.Party()
		}
		h(c)
	}
}

func supported(v ocpi.Version) bool {
	for _, s := range ocpi.Versions {
		if v == s {
			return true
		}
	}
	return false
}

// reply writes an OCPI envelope.
func (s *Server) reply(c *call, httpStatus int, code ocpi.StatusCode, message string, data any) {
	body, err := ocpi.MarshalEnvelope(data, code, message, s.cfg.Now())
	if err != nil {
		httpStatus, code = http.StatusInternalServerError, ocpi.StatusServerError
		body, _ = ocpi.MarshalEnvelope(nil, code, "cannot encode the answer", s.cfg.Now())
	}
	if c.rec != nil {
		c.rec.ocpiStatus = int(code)
	}
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(httpStatus)
	c.w.Write(body)
}

// fail answers a refusal and counts it by rule.
func (s *Server) fail(c *call, httpStatus int, code ocpi.StatusCode, rule ocpi.Rule, path, message string) {
	if rule == "" {
		rule = "protocol"
	}
	s.metrics.rejects.WithLabelValues(string(rule)).Inc()
	if path != "" {
		message = path + ": " + message
	}
	s.reply(c, httpStatus, code, message+" ["+string(rule)+"]", nil)
}

func (s *Server) unauthorized(c *call, why string) {
	s.metrics.rejects.WithLabelValues("auth").Inc()
	c.w.Header().Set("WWW-Authenticate", "Token")
	s.reply(c, http.StatusUnauthorized, ocpi.StatusClientError, why, nil)
}

// readBody reads the request body under the size limit. It has answered
// when it returns ok false.
func (s *Server) readBody(c *call) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, s.cfg.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			// The bytes read so far are kept (bounded): what the partner
			// tried to send is evidence too.
			s.refuse(c, body, http.StatusRequestEntityTooLarge, ocpi.StatusClientError, ocpi.RuleTooLarge, "",
				fmt.Sprintf("the body is over the %d-byte limit (raw copy: the first %d of %s bytes)",
					s.cfg.MaxBody, min(len(body), MaxRefusedRaw), sizeText(c, len(body))))
			return nil, false
		}
		s.fail(c, http.StatusBadRequest, ocpi.StatusClientError, ocpi.RuleSyntax, "", "the body could not be read")
		return nil, false
	}
	return body, true
}

// tokenKind says which of a partner's tokens authenticated a request.
type tokenKind int

const (
	tokenA      tokenKind = iota + 1 // the registration token
	tokenIssued                      // the token we issued at registration (C)
)

type authEntry struct {
	conn *ocpi.Connection
	kind tokenKind
}

// authCache maps token digests to connections. A miss rereads the store at
// most once a second, so a partner added by the CLI is found without a
// restart but a flood of bad tokens does not hammer the database.
type authCache struct {
	store      PartnerStore
	mu         sync.RWMutex
	byHash     map[[32]byte]authEntry
	lastReload time.Time
	// expected are connections of handshakes we started and that are not
	// stored yet (see Server.Expect); they survive reloads.
	expected map[[32]byte]authEntry
}

func (a *authCache) reload(ctx context.Context) error {
	conns, err := a.store.Partners(ctx)
	if err != nil {
		return fmt.Errorf("receiver: partners: %w", err)
	}
	m := make(map[[32]byte]authEntry, 2*len(conns))
	a.mu.RLock()
	for k, e := range a.expected {
		m[k] = e
	}
	a.mu.RUnlock()
	for i := range conns {
		c := &conns[i]
		if c.UnregisteredAt != nil {
			continue
		}
		if c.TokenA != ([32]byte{}) {
			m[c.TokenA] = authEntry{c, tokenA}
		}
		if c.TokenC != ([32]byte{}) {
			m[c.TokenC] = authEntry{c, tokenIssued}
		}
	}
	a.mu.Lock()
	a.byHash, a.lastReload = m, time.Now()
	a.mu.Unlock()
	return nil
}

var (
	errNoToken      = errors.New("missing or malformed Authorization header (want: Token <token>)")
	errUnknownToken = errors.New("unknown token")
)

// authenticate finds the connection of an Authorization header. The header
// is read in every way the digest allows (Base64 first, then raw); the way
// that matched must be one the partner's auth mode accepts.
func (a *authCache) authenticate(ctx context.Context, header string) (*ocpi.Connection, tokenKind, string, error) {
	cands, err := ocpi.TokenCandidates(header)
	if err != nil {
		return nil, 0, "", errNoToken
	}
	for attempt := 0; attempt < 2; attempt++ {
		a.mu.RLock()
		for _, cand := range cands {
			e, ok := a.byHash[sha256.Sum256([]byte(cand.Token))]
			if ok && (e.conn.AuthMode == ocpi.AuthAuto || e.conn.AuthMode == "" || e.conn.AuthMode == cand.Mode) {
				a.mu.RUnlock()
				return e.conn, e.kind, cand.Token, nil
			}
		}
		stale := time.Since(a.lastReload) > time.Second
		a.mu.RUnlock()
		if attempt > 0 || !stale {
			break
		}
		if err := a.reload(ctx); err != nil {
			return nil, 0, "", err
		}
	}
	return nil, 0, "", errUnknownToken
}

// versions answers the versions endpoint.
func (s *Server) versions(c *call) {
	list := make([]ocpi.VersionInfo, 0, len(ocpi.Versions))
	for _, v := range ocpi.Versions {
		list = append(list, ocpi.VersionInfo{Version: v, URL: s.cfg.BaseURL + "/ocpi/" + string(v)})
	}
	s.reply(c, http.StatusOK, ocpi.StatusSuccess, "", list)
}

// Details returns the endpoints we publish for a version.
func (s *Server) Details(v ocpi.Version) ocpi.VersionDetails {
	base := s.cfg.BaseURL + "/ocpi/" + string(v) + "/"
	d := ocpi.VersionDetails{Version: v, Endpoints: []ocpi.Endpoint{
		{Identifier: ocpi.ModuleCredentials, Role: ocpi.InterfaceSender, URL: base + "credentials"},
		{Identifier: ocpi.ModuleCDRs, Role: ocpi.InterfaceReceiver, URL: base + "cdrs"},
		{Identifier: ocpi.ModuleTariffs, Role: ocpi.InterfaceReceiver, URL: base + "tariffs"},
		{Identifier: ocpi.ModuleLocations, Role: ocpi.InterfaceReceiver, URL: base + "locations"},
	}}
	if v != ocpi.V211 {
		d.Endpoints = append(d.Endpoints, ocpi.Endpoint{Identifier: ocpi.ModuleHubClientInfo,
			Role: ocpi.InterfaceReceiver, URL: base + "hubclientinfo"})
	}
	if v == ocpi.V230 {
		d.Endpoints = append(d.Endpoints, ocpi.Endpoint{Identifier: ocpi.ModuleInvoiceReconciliation,
			Role: ocpi.InterfaceReceiver, URL: base + "invoicereconciliation"})
	}
	return d.ForVersion(v)
}

func (s *Server) details(c *call) {
	s.reply(c, http.StatusOK, ocpi.StatusSuccess, "", s.Details(c.version))
}

// writeJSON is for small fixed answers.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
