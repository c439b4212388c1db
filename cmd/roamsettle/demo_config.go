package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/roamsettle/roamsettle/synth"
)

// writeDemoConfig writes the roamsettle.toml of a generated month: the
// database and output folder, our party (the eMSP the generator bills) and
// each CPO with the legal details its statements and invoices print
// (invented for the demo: the generator has names, not addresses), billed
// by self-billing (we issue the invoices on the CPOs' behalf, so that one
// chain numbers them all).
func writeDemoConfig(w io.Writer, sum synth.Summary, db, out, tokens string) error {
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by roamsettle demo for the generated month %s.\n", sum.Month)
	fmt.Fprintf(&b, "database = %s\noutput = %s\ntokens = %s\n\n", q(db), q(out), q(tokens))
	cc, pid, _ := strings.Cut(sum.EMSP, "-")
	fmt.Fprintf(&b, "[invoicing]\nbilling = \"self_billing\"\npayment_terms_days = 30\n")
	fmt.Fprintf(&b, "payment_note = \"Payment within 30 days of the invoice date.\"\n\n")
	fmt.Fprintf(&b, "[invoicing.self]\nlegal_name = \"Roam Settle Mobility B.V.\"\ncountry_code = %s\nparty_id = %s\n", q(cc), q(pid))
	fmt.Fprintf(&b, "street = \"Keizersgracht 100\"\npostal_code = \"1015 CJ\"\ncity = \"Amsterdam\"\ncountry = \"NL\"\nvat_id = \"NL000000000B01\"\n")
	for _, p := range sum.Parties {
		city := p.TimeZone[strings.LastIndex(p.TimeZone, "/")+1:]
		city = strings.ReplaceAll(city, "_", " ")
		fmt.Fprintf(&b, "\n[[partners]]\ncountry_code = %s\nparty_id = %s\nname = %s\nrole = \"CPO\"\nversion = %s\n",
			q(p.CountryCode), q(p.PartyID), q(p.Name), q(string(p.OCPIVersion)))
		fmt.Fprintf(&b, "[partners.invoicing]\nstreet = \"Stationsplein 1\"\npostal_code = \"1000\"\ncity = %s\ncountry = %s\n",
			q(city), q(p.CountryCode))
		fmt.Fprintf(&b, "vat_id = %s\niban = \"NL00DEMO0000000000\"\n", q(p.CountryCode+"000000000"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
