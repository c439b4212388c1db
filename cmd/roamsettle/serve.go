package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ingest/puller"
	"github.com/roamsettle/roamsettle/ingest/receiver"
	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/schedule"
	"github.com/roamsettle/roamsettle/store"
)

// serveFlags are the flags serve and connect share.
type serveFlags struct {
	listen, publicURL, cert, key, self, selfName string
	maxBody                                      int64
	batchWait                                    time.Duration
	quietRequests                                bool
	// health adds parts to /health (serve's scheduler); not a flag.
	health map[string]func() any
}

func (f *serveFlags) register(fs interface {
	StringVar(*string, string, string, string)
	Int64Var(*int64, string, int64, string)
	DurationVar(*time.Duration, string, time.Duration, string)
	BoolVar(*bool, string, bool, string)
}) {
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "address to listen on (port 0: any free port)")
	fs.StringVar(&f.publicURL, "public-url", "", "base URL partners reach us at (default http(s)://LISTEN)")
	fs.StringVar(&f.cert, "cert", "", "TLS certificate file (PEM); with --key serves HTTPS")
	fs.StringVar(&f.key, "key", "", "TLS private key file (PEM)")
	fs.StringVar(&f.self, "party", "NL-RSE", "our own party as CC-PID, sent in credentials")
	fs.StringVar(&f.selfName, "name", "roamsettle", "our business name, sent in credentials")
	fs.Int64Var(&f.maxBody, "max-body", 1<<20, "largest request body in bytes")
	fs.DurationVar(&f.batchWait, "batch-wait", 0, "how long a CDR group commit waits for more requests (0: only what queued during the previous commit)")
	fs.BoolVar(&f.quietRequests, "quiet-requests", false, "log only failed requests")
}

// httpEndpoint is a listening OCPI receiver.
type httpEndpoint struct {
	srv      *receiver.Server
	http     *http.Server
	ln       net.Listener
	served   chan error
	versions string
}

// baseURL is how partners reach us: --public-url, else the address
// listened on.
func (f serveFlags) baseURL(addr string) string {
	if base := strings.TrimRight(f.publicURL, "/"); base != "" {
		return base
	}
	scheme := "http"
	if f.cert != "" {
		scheme = "https"
	}
	return scheme + "://" + addr
}

// selfRoles are our parties and roles as sent in credentials.
func (f serveFlags) selfRoles() ([]ocpi.CredentialsRole, error) {
	cc, pid, err := parseParty(f.self)
	if err != nil {
		return nil, fmt.Errorf("--party: %w", err)
	}
	return []ocpi.CredentialsRole{{Role: "EMSP", CountryCode: cc, PartyID: pid, BusinessDetails: ocpi.BusinessDetails{Name: f.selfName}}}, nil
}

// startReceiver listens and serves the OCPI receiver on the store.
func startReceiver(env *Env, db *store.Store, box *secretBox, f serveFlags) (*httpEndpoint, error) {
	if _, err := f.selfRoles(); err != nil {
		return nil, err
	}
	if (f.cert == "") != (f.key == "") {
		return nil, errors.New("--cert and --key go together")
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return nil, err
	}
	return serveOn(env, db, box, f, ln)
}

// serveOn serves the OCPI receiver on a listener.
func serveOn(env *Env, db *store.Store, box *secretBox, f serveFlags, ln net.Listener) (*httpEndpoint, error) {
	self, err := f.selfRoles()
	if err != nil {
		ln.Close()
		return nil, err
	}
	base := f.baseURL(ln.Addr().String())
	log := env.Log
	if f.quietRequests {
		log = slog.New(levelFilter{Handler: env.Log.Handler(), min: slog.LevelWarn})
	}
	srv, err := receiver.New(receiver.Config{
		BaseURL: base,
		Self:    self,
		Sink:    db, Partners: db, Objects: storeObjects{db}, Sealer: box,
		Client:    &puller.Client{Attempts: 2, HTTP: &http.Client{Timeout: 15 * time.Second}},
		Log:       log,
		MaxBody:   f.maxBody,
		BatchWait: f.batchWait,
		Health:    f.health,
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(env.Log.Handler(), slog.LevelWarn)}
	e := &httpEndpoint{srv: srv, http: hs, ln: ln, served: make(chan error, 1), versions: srv.VersionsURL()}
	go func() {
		if f.cert != "" {
			hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			e.served <- hs.ServeTLS(ln, f.cert, f.key)
			return
		}
		e.served <- hs.Serve(ln)
	}()
	return e, nil
}

// stop finishes in-flight requests (up to grace), then commits what the
// group commit holds.
func (e *httpEndpoint) stop(grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := e.http.Shutdown(ctx)
	e.srv.Close()
	return err
}

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "serve", "",
		"Serves the eMSP side of OCPI 2.1.1, 2.2.1 and 2.3.0: versions, credentials, and the CDR, tariff, location\n"+
			"and invoice reconciliation receivers, plus /metrics and /health. Prints the versions URL on start.\n"+
			"SIGINT/SIGTERM finish in-flight requests before exiting.")
	dbf := addDBFlags(fs)
	var f serveFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, cfg, err := dbf.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	// The receiver commits many small batches: one DuckDB thread spends less
	// on scheduling per statement and leaves the other core to the HTTP side.
	if err := db.SetThreads(ctx, 1); err != nil {
		return err
	}
	box, err := openSecretBox(cfg.Database)
	if err != nil {
		return err
	}
	// The [schedule] section runs the nightly settlement in this process,
	// the one that owns the database (schedule.go).
	var sched *schedule.Scheduler
	if cfg.Schedule != nil {
		if sched, err = newScheduler(env, db, cfg); err != nil {
			return err
		}
		f.health = map[string]func() any{"schedule": func() any { return sched.Health() }}
	}
	e, err := startReceiver(env, db, box, f)
	if err != nil {
		return err
	}
	adm := serveAdmin(env, db, cfg.Database)
	schedDone := make(chan error, 1)
	schedCtx, stopSched := context.WithCancel(ctx)
	defer stopSched()
	if sched != nil {
		e.srv.Registry().MustRegister(sched.Collectors()...)
		go func() { schedDone <- sched.Run(schedCtx) }()
	} else {
		schedDone <- nil
	}
	fmt.Fprintf(env.Stdout, "roamsettle serving OCPI at %s\n", e.versions)
	select {
	case <-ctx.Done():
		env.Log.Info("shutting down: finishing in-flight requests and letting settlement runs reach a step boundary")
		err := errors.Join(adm.stop(20*time.Second), e.stop(20*time.Second))
		return errors.Join(err, <-schedDone)
	case err := <-e.served:
		adm.stop(20 * time.Second)
		stopSched()
		e.srv.Close()
		return errors.Join(err, <-schedDone)
	}
}

// storeObjects adapts the store to what the receiver reads.
type storeObjects struct{ db *store.Store }

var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return receiver.ErrNotFound
	}
	return err
}

func (o storeObjects) CDRRaw(ctx context.Context, cc, pid, id string) ([]byte, error) {
	_, raw, err := o.db.CDR(ctx, cc, pid, id)
	return raw, notFound(err)
}

func (o storeObjects) LatestLocation(ctx context.Context, cc, pid, id string) (*ocpi.Location, error) {
	l, err := o.db.LocationAt(ctx, cc, pid, id, farFuture)
	return l, notFound(err)
}

func (o storeObjects) LatestTariffRaw(ctx context.Context, cc, pid, id string) ([]byte, error) {
	raw, err := o.db.LatestTariffRaw(ctx, cc, pid, id)
	return raw, notFound(err)
}

func (o storeObjects) WithdrawTariff(ctx context.Context, cc, pid, id string, at time.Time) error {
	return o.db.WithdrawTariff(ctx, cc, pid, id, at)
}

func (o storeObjects) TariffWithdrawnAt(ctx context.Context, cc, pid, id string) (time.Time, bool, error) {
	return o.db.TariffWithdrawnAt(ctx, cc, pid, id)
}

func (o storeObjects) LatestInvoiceRaw(ctx context.Context, cc, pid, id string) ([]byte, error) {
	raw, err := o.db.LatestInvoiceRaw(ctx, cc, pid, id)
	return raw, notFound(err)
}

func (o storeObjects) WithdrawInvoice(ctx context.Context, cc, pid, id string, at time.Time) error {
	return o.db.WithdrawInvoice(ctx, cc, pid, id, at)
}

func (o storeObjects) InvoiceWithdrawnAt(ctx context.Context, cc, pid, id string) (time.Time, bool, error) {
	return o.db.InvoiceWithdrawnAt(ctx, cc, pid, id)
}

// levelFilter drops records below min (access logs of successful requests
// under load).
type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (l levelFilter) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= l.min && l.Handler.Enabled(ctx, lv)
}
