package reconcile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/shopspring/decimal"
)

// Report is the reconciliation of one partner's period: every CDR's
// evaluation, the validation findings, the invoice matching (when invoices
// were given) and the disputes raised.
type Report struct {
	Period, Partner string
	// Evaluations are the CDRs evaluated whole; Accepted those the bulk
	// path's Screen accepted (OK, no reason, no finding). Together they are
	// every CDR of the period.
	Evaluations []*Evaluation
	Accepted    []Accepted
	Findings    []Finding
	Invoice     *InvoiceResult
	Disputes    []*Dispute
	// TokensKnown: the CDRs' tokens were checked against the eMSP's list.
	TokensKnown bool
}

// Sort orders everything by CDR identity, so that a report never depends
// on scan order.
func (r *Report) Sort() {
	sort.SliceStable(r.Evaluations, func(i, j int) bool {
		a, b := r.Evaluations[i], r.Evaluations[j]
		return IdentityKey(a.CountryCode, a.PartyID, a.ID) < IdentityKey(b.CountryCode, b.PartyID, b.ID)
	})
	SortFindings(r.Findings)
	sort.SliceStable(r.Disputes, func(i, j int) bool { return r.Disputes[i].Key() < r.Disputes[j].Key() })
}

// JSONAmount is an amount as decimal strings at the currency's minor
// units; a side the source does not state is null.
type JSONAmount struct {
	ExclVAT *string `json:"excl_vat"`
	InclVAT *string `json:"incl_vat"`
}

// AmountJSON is an amount as decimal strings at minor units (nil: none).
func AmountJSON(a Amount, minor int) *JSONAmount { return jsonAmount(a, minor) }

func jsonAmount(a Amount, minor int) *JSONAmount {
	if !a.HasExcl && !a.HasIncl {
		return nil
	}
	out := &JSONAmount{}
	if a.HasExcl {
		s := FixedMicro(RoundMicro(a.Excl, minor), minor)
		out.ExclVAT = &s
	}
	if a.HasIncl {
		s := FixedMicro(RoundMicro(a.Incl, minor), minor)
		out.InclVAT = &s
	}
	return out
}

// CurrencySummary is the money of one currency (never added across).
type CurrencySummary struct {
	Billed     *JSONAmount `json:"billed"`
	Recomputed *JSONAmount `json:"recomputed"`
	InDispute  *JSONAmount `json:"in_dispute"`
}

// JSONSummary is the "summary" object of `reconcile --json`.
type JSONSummary struct {
	CDRs          int                        `json:"cdrs"`
	OK            int                        `json:"ok"`
	Mismatch      int                        `json:"mismatch"`
	NotVerifiable int                        `json:"not_verifiable"`
	Accepted      int                        `json:"accepted"`
	Disputed      int                        `json:"disputed"`
	Currencies    map[string]CurrencySummary `json:"currencies"`
	ByReason      map[string]int             `json:"by_reason"`
}

// JSONCDR is one entry of "cdrs".
type JSONCDR struct {
	CountryCode string      `json:"country_code"`
	PartyID     string      `json:"party_id"`
	ID          string      `json:"id"`
	Verdict     Verdict     `json:"verdict"`
	Reasons     []Reason    `json:"reasons"`
	Currency    string      `json:"currency"`
	Billed      *JSONAmount `json:"billed"`
	Recomputed  *JSONAmount `json:"recomputed"`
	Difference  *JSONAmount `json:"difference"`
	Note        string      `json:"note,omitempty"`
	// Hypotheses are those that explain the billed amount, most likely
	// first (the evidence is in the dispute).
	Hypotheses []string `json:"hypotheses,omitempty"`
}

// JSONFinding is one entry of "findings".
type JSONFinding struct {
	CountryCode string   `json:"country_code"`
	PartyID     string   `json:"party_id"`
	CDRID       string   `json:"cdr_id"`
	Code        Code     `json:"code"`
	Severity    Severity `json:"severity"`
	Field       string   `json:"field"`
	Message     string   `json:"message"`
	Blocking    bool     `json:"blocking"`
}

// JSONLine is one entry of "invoice.lines".
type JSONLine struct {
	File       string      `json:"file"`
	Line       int         `json:"line"`
	CDRID      string      `json:"cdr_id"`
	Class      LineClass   `json:"class"`
	Stated     *JSONAmount `json:"stated"`
	Accepted   *JSONAmount `json:"accepted"`
	Difference *JSONAmount `json:"difference"`
	Note       string      `json:"note,omitempty"`
}

// JSONInvoice is the "invoice" object.
type JSONInvoice struct {
	Lines    []JSONLine     `json:"lines"`
	OursOnly []string       `json:"ours_only"`
	Total    JSONTotal      `json:"total"`
	Classes  map[string]int `json:"classes"`
}

// JSONTotal is "invoice.total".
type JSONTotal struct {
	Currency   string      `json:"currency"`
	Stated     *JSONAmount `json:"stated"`
	Recomputed *JSONAmount `json:"recomputed"`
	Difference *JSONAmount `json:"difference"`
}

// JSONReport is the one object `reconcile --json` prints (issue 13's
// interface; extended only by adding fields).
type JSONReport struct {
	Period   string        `json:"period"`
	Partner  string        `json:"partner"`
	Summary  JSONSummary   `json:"summary"`
	CDRs     []JSONCDR     `json:"cdrs"`
	Findings []JSONFinding `json:"findings"`
	Invoice  *JSONInvoice  `json:"invoice,omitempty"`
	KPIs     *KPIs         `json:"kpis,omitempty"`
}

// sums accumulates money per currency in millionths.
type sums struct {
	minor                         int
	billed, recomputed, inDispute Amount
}

// Summary computes the "summary" object (and the money per currency)
// without building an entry per CDR.
func (r *Report) Summary() JSONSummary {
	var s JSONSummary
	s.Currencies, s.ByReason = map[string]CurrencySummary{}, map[string]int{}
	money := map[string]*sums{}
	var last *sums // a run of CDRs of one currency, most of a partner's, skips the map
	lastCur := ""
	cur := func(c string, minor int) *sums {
		if last != nil && c == lastCur {
			return last
		}
		m := money[c]
		if m == nil {
			m = &sums{minor: minor}
			money[c] = m
		}
		last, lastCur = m, c
		return m
	}
	for _, ev := range r.Evaluations {
		s.CDRs++
		switch ev.Verdict {
		case VerdictOK:
			s.OK++
		case VerdictMismatch:
			s.Mismatch++
		default:
			s.NotVerifiable++
		}
		if ev.Disputed() {
			s.Disputed++
		} else {
			s.Accepted++
		}
		for _, rs := range ev.Reasons {
			s.ByReason[string(rs)]++
		}
		m := cur(ev.Currency, ev.MinorUnits)
		m.billed = addAmount(m.billed, ev.Billed[TotalCost])
		m.recomputed = addAmount(m.recomputed, ev.Recomputed[TotalCost])
		if ev.Disputed() {
			m.inDispute = addAmount(m.inDispute, inDispute(ev))
		}
	}
	for i := range r.Accepted {
		a := &r.Accepted[i]
		s.CDRs++
		s.OK++
		s.Accepted++
		m := cur(a.Currency, a.MinorUnits)
		m.billed = addAmount(m.billed, a.Billed)
		m.recomputed = addAmount(m.recomputed, a.Recomputed)
	}
	for c, m := range money {
		s.Currencies[c] = CurrencySummary{Billed: jsonAmount(m.billed, m.minor), Recomputed: jsonAmount(m.recomputed, m.minor),
			InDispute: jsonAmount(m.inDispute, m.minor)}
	}
	return s
}

// jsonCDR is one entry of "cdrs".
func (ev *Evaluation) jsonCDR() JSONCDR {
	jc := JSONCDR{CountryCode: ev.CountryCode, PartyID: ev.PartyID, ID: ev.ID, Verdict: ev.Verdict,
		Reasons: append([]Reason{}, ev.Reasons...), Currency: ev.Currency, Note: ev.Note,
		Billed: jsonAmount(ev.Billed[TotalCost], ev.MinorUnits), Recomputed: jsonAmount(ev.Recomputed[TotalCost], ev.MinorUnits),
		Difference: jsonAmount(ev.Difference(), ev.MinorUnits)}
	for i := range ev.Trials {
		if ev.Trials[i].Explains {
			jc.Hypotheses = append(jc.Hypotheses, string(ev.Trials[i].Reason)+": "+ev.Trials[i].Name)
		}
	}
	return jc
}

// Difference is recomputed - billed of total_cost at minor units (both
// sides are stated: an accepted CDR has a billed and a computed amount).
func (a *Accepted) Difference() Amount {
	d := Compare(a.Billed, a.Recomputed, a.MinorUnits)
	return Amount{Excl: d.Excl, Incl: d.Incl, HasExcl: true, HasIncl: d.HasIncl}
}

func (a *Accepted) jsonCDR() JSONCDR {
	return JSONCDR{CountryCode: a.CountryCode, PartyID: a.PartyID, ID: a.ID, Verdict: VerdictOK, Reasons: []Reason{},
		Currency: a.Currency, Billed: jsonAmount(a.Billed, a.MinorUnits), Recomputed: jsonAmount(a.Recomputed, a.MinorUnits),
		Difference: jsonAmount(a.Difference(), a.MinorUnits)}
}

// Build turns the report into its JSON form: the CDRs evaluated whole and
// the accepted ones, merged in identity order.
func (r *Report) Build() *JSONReport {
	out := &JSONReport{Period: r.Period, Partner: r.Partner, Summary: r.Summary(), CDRs: make([]JSONCDR, 0, len(r.Evaluations)+len(r.Accepted)),
		Findings: r.jsonFindings()}
	r.eachCDR(func(c JSONCDR) error {
		out.CDRs = append(out.CDRs, c)
		return nil
	})
	out.Invoice = r.invoiceJSON()
	return out
}

// eachCDR calls fn with every CDR's JSON, evaluated and accepted merged in
// identity order, and stops at its first error.
func (r *Report) eachCDR(fn func(JSONCDR) error) error {
	acc := make([]*Accepted, len(r.Accepted))
	keys := make([]string, len(r.Accepted))
	for i := range r.Accepted {
		acc[i] = &r.Accepted[i]
		keys[i] = IdentityKey(acc[i].CountryCode, acc[i].PartyID, acc[i].ID)
	}
	if !sort.StringsAreSorted(keys) {
		sort.Sort(byKey{acc, keys})
	}
	j := 0
	for _, ev := range r.Evaluations {
		k := IdentityKey(ev.CountryCode, ev.PartyID, ev.ID)
		for ; j < len(acc) && keys[j] < k; j++ {
			if err := fn(acc[j].jsonCDR()); err != nil {
				return err
			}
		}
		if err := fn(ev.jsonCDR()); err != nil {
			return err
		}
	}
	for ; j < len(acc); j++ {
		if err := fn(acc[j].jsonCDR()); err != nil {
			return err
		}
	}
	return nil
}

func (r *Report) jsonFindings() []JSONFinding {
	out := make([]JSONFinding, 0, len(r.Findings))
	for _, f := range r.Findings {
		out = append(out, JSONFinding{CountryCode: f.CountryCode, PartyID: f.PartyID, CDRID: f.CDRID,
			Code: f.Code, Severity: f.Severity, Field: f.Field, Message: f.Message, Blocking: f.Blocking})
	}
	return out
}

type byKey struct {
	acc  []*Accepted
	keys []string
}

func (b byKey) Len() int           { return len(b.acc) }
func (b byKey) Less(i, j int) bool { return b.keys[i] < b.keys[j] }
func (b byKey) Swap(i, j int) {
	b.acc[i], b.acc[j] = b.acc[j], b.acc[i]
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
}

func (r *Report) invoiceJSON() *JSONInvoice {
	inv := r.Invoice
	if inv == nil {
		return nil
	}
	ji := &JSONInvoice{Lines: []JSONLine{}, OursOnly: append([]string{}, inv.OursOnly...), Classes: map[string]int{}}
	minor := inv.Total.MinorUnits
	for _, l := range inv.Lines {
		ji.Lines = append(ji.Lines, JSONLine{File: l.File, Line: l.Line, CDRID: l.CDRID, Class: l.Class,
			Stated: jsonAmount(l.Stated, minor), Accepted: jsonAmount(l.Accepted, minor), Difference: jsonAmount(l.Difference, minor), Note: l.Note})
		ji.Classes[string(l.Class)]++
	}
	t := inv.Total
	ji.Total = JSONTotal{Currency: t.Currency, Stated: jsonAmount(t.Stated, minor), Recomputed: jsonAmount(t.Recomputed, minor),
		Difference: jsonAmount(t.Difference, minor)}
	return ji
}

// WriteJSON writes the report as one indented JSON object, with its KPIs:
// the bytes of encoding Build() (with KPIs) with a two-space indent. The
// CDRs are encoded one at a time as they are written, so a partner's month
// of a million CDRs (~600 MB of JSON) is never held whole in memory.
func (r *Report) WriteJSON(w io.Writer) error {
	k := r.KPIs(r.TokensKnown)
	head := &JSONReport{Period: r.Period, Partner: r.Partner, Summary: r.Summary(), CDRs: []JSONCDR{},
		Findings: []JSONFinding{}, Invoice: r.invoiceJSON(), KPIs: &k}
	hb, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return err
	}
	// The head with both arrays empty, cut where their elements go.
	const cdrsAt, findingsAt = "\n  \"cdrs\": [", "\n  \"findings\": ["
	i := bytes.Index(hb, []byte(cdrsAt+"],"))
	f := bytes.Index(hb, []byte(findingsAt+"]"))
	if i < 0 || f < i {
		return fmt.Errorf("reconcile report %s %s: JSON head without its arrays", r.Period, r.Partner)
	}
	i, f = i+len(cdrsAt), f+len(findingsAt)
	bw := bufio.NewWriterSize(w, 1<<20)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("    ", "  ")
	n := 0
	put := func(elem []byte) error {
		sep := ",\n    "
		if n == 0 {
			sep = "\n    "
		}
		n++
		bw.WriteString(sep)
		_, err := bw.Write(elem)
		return err
	}
	elem := func(v any) error {
		buf.Reset()
		if err := enc.Encode(v); err != nil {
			return err
		}
		return put(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	}
	var cb []byte
	closeArray := func() {
		if n > 0 {
			bw.WriteString("\n  ")
		}
		n = 0
	}
	bw.Write(hb[:i])
	if err := r.eachCDR(func(c JSONCDR) error { cb = appendCDR(cb[:0], &c); return put(cb) }); err != nil {
		return err
	}
	closeArray()
	bw.Write(hb[i:f])
	for _, fd := range r.jsonFindings() {
		if err := elem(&fd); err != nil {
			return err
		}
	}
	closeArray()
	bw.Write(hb[f:])
	bw.WriteString("\n")
	return bw.Flush()
}

// WriteSummary writes the summary table: CDRs, accepted, disputed, the
// money per currency, the CDRs by reason, the findings by code and the
// invoice classes.
func (r *Report) WriteSummary(w io.Writer) error {
	sm := r.Summary()
	s := &sm
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "reconcile %s %s\n", r.Period, r.Partner)
	fmt.Fprintf(tw, "  CDRs\t%d\n  accepted\t%d\n  disputed\t%d\n", s.CDRs, s.Accepted, s.Disputed)
	fmt.Fprintf(tw, "  verdicts\tOK %d, MISMATCH %d, NOT_VERIFIABLE %d\n", s.OK, s.Mismatch, s.NotVerifiable)
	str := func(a *JSONAmount) string {
		if a == nil {
			return "-"
		}
		v := "-"
		if a.ExclVAT != nil {
			v = *a.ExclVAT
		}
		if a.InclVAT != nil {
			v += " / " + *a.InclVAT
		}
		return v
	}
	for _, c := range sortedKeys(s.Currencies) {
		m := s.Currencies[c]
		if c == "" {
			c = "no currency"
		}
		fmt.Fprintf(tw, "  %s (excl / incl VAT)\tbilled %s\trecomputed %s\tin dispute %s\n", c, str(m.Billed), str(m.Recomputed), str(m.InDispute))
	}
	if len(s.ByReason) > 0 {
		fmt.Fprintf(tw, "  by reason\n")
		for _, rs := range Reasons {
			if n := s.ByReason[string(rs)]; n > 0 {
				fmt.Fprintf(tw, "    %s\t%d\n", rs, n)
			}
		}
	}
	codes := map[Code][2]int{}
	for _, f := range r.Findings {
		n := codes[f.Code]
		if f.Severity == SeverityError {
			n[0]++
		} else {
			n[1]++
		}
		codes[f.Code] = n
	}
	if len(codes) > 0 {
		fmt.Fprintf(tw, "  findings\terrors\twarnings\n")
		for _, rule := range Rules {
			if n, ok := codes[rule.Code]; ok {
				fmt.Fprintf(tw, "    %s\t%d\t%d\n", rule.Code, n[0], n[1])
			}
		}
	}
	k := r.KPIs(r.TokensKnown)
	pct := func(s *string) string {
		if s == nil {
			return "-"
		}
		return decimal.RequireFromString(*s).Shift(2).StringFixed(2) + " %"
	}
	fmt.Fprintf(tw, "  KPIs\tacceptance %s\tdisputes %s\tin effect %s\tzone resolved %s\ttokens known %s\n", pct(k.AcceptanceRate),
		pct(k.DisputeRate), pct(k.PricedInEffectRate), pct(k.ZoneResolvedRate), pct(k.TokenKnownRate))
	if inv := r.invoiceJSON(); inv != nil {
		fmt.Fprintf(tw, "  invoice lines\t%d\n", len(inv.Lines))
		for _, c := range LineClasses {
			if n := inv.Classes[string(c)]; n > 0 {
				fmt.Fprintf(tw, "    %s\t%d\n", c, n)
			}
		}
		fmt.Fprintf(tw, "    ours only\t%d\n", len(inv.OursOnly))
		fmt.Fprintf(tw, "  invoice total %s\tstated %s\trecomputed %s\tdifference %s\n", inv.Total.Currency, str(inv.Total.Stated),
			str(inv.Total.Recomputed), str(inv.Total.Difference))
	}
	return tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SummaryJSON is the report's JSON without its per-CDR arrays (period,
// partner, summary, KPIs, invoice): what a run stores beside its rows.
func (r *Report) SummaryJSON() ([]byte, error) {
	k := r.KPIs(r.TokensKnown)
	return json.Marshal(struct {
		Period  string       `json:"period"`
		Partner string       `json:"partner"`
		Summary JSONSummary  `json:"summary"`
		Invoice *JSONInvoice `json:"invoice,omitempty"`
		KPIs    *KPIs        `json:"kpis"`
	}{r.Period, r.Partner, r.Summary(), r.invoiceJSON(), &k})
}
