package settle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
)

// inputsVersion names the digest's recipe: a change to what goes into it
// is a new version, so that no digest of the old recipe equals one of the
// new.
const inputsVersion = "roamsettle job inputs 1"

// inputs reads the scope's stored inputs and digests them with the policy.
func (d *JobDeps) inputs(ctx context.Context, sel *Selection) (JobInputs, error) {
	parts, err := d.Scope.ScopeInputs(ctx, sel)
	if err != nil {
		return JobInputs{}, wrap("scope inputs", ErrRead, "", err)
	}
	return JobInputs{Digest: InputsDigest(parts, d.Policy), Parts: parts}, nil
}

// InputsDigest is the digest two runs compare to know whether they settle
// the same inputs: SHA-256 over the recipe's version, every part (name, row
// count, the store's order-independent hash of the rows) sorted by name,
// and the policy bytes. The store's parts cover everything a run reads
// (the scope's CDRs by the period rule, with their findings; every
// published tariff version and withdrawal of the scope's owners; their
// location versions; invoice reconciliation records; dispute moves made by
// people); CDRs, tariff and location versions are immutable and append-only,
// so a count and a hash of identities and content hashes cannot stay the
// same when one is added. The policy is the configuration that shapes the
// results and the engine's version.
func InputsDigest(parts []InputPart, policy []byte) string {
	ps := append([]InputPart(nil), parts...)
	sort.Slice(ps, func(a, b int) bool { return ps[a].Name < ps[b].Name })
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", inputsVersion)
	for _, p := range ps {
		fmt.Fprintf(h, "%s\t%d\t%s\n", p.Name, p.Rows, p.Hash)
	}
	fmt.Fprintf(h, "policy\t%d\n", len(policy))
	h.Write(policy)
	return hex.EncodeToString(h.Sum(nil))
}

// JSON is the inputs as the ledger records them.
func (in JobInputs) JSON() ([]byte, error) { return json.Marshal(in) }

// Rows is the row count of the named part (0 when absent).
func (in JobInputs) Rows(name string) int64 {
	for _, p := range in.Parts {
		if p.Name == name {
			return p.Rows
		}
	}
	return 0
}

// ParseJobInputs reads what JSON wrote.
func ParseJobInputs(b []byte) (JobInputs, error) {
	var in JobInputs
	if len(b) == 0 {
		return in, fmt.Errorf("no inputs recorded")
	}
	err := json.Unmarshal(b, &in)
	return in, err
}
