package puller

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// HubStore keeps the parties a hub fronts.
type HubStore interface {
	SaveHubClients(ctx context.Context, partnerID int64, clients []ocpi.ClientInfo, at time.Time) error
}

// maxHubPages bounds one read of a hub's client list.
const maxHubPages = 1000

// HubClients reads the complete list of a hub's hubclientinfo Sender
// interface, every page, without date filters: the spec says what the list
// does not name is no longer valid. Entries that are not valid ClientInfo
// objects are left out and described in skipped. It is an error when the
// hub publishes no hubclientinfo Sender endpoint.
func (c *Client) HubClients(ctx context.Context, conn ocpi.Connection, token string) (clients []ocpi.ClientInfo, skipped []string, err error) {
	next, ok := ocpi.VersionDetails{Endpoints: conn.Endpoints}.Find(ocpi.ModuleHubClientInfo, ocpi.InterfaceSender)
	if !ok {
		return nil, nil, fmt.Errorf("hubclientinfo from %s: the hub publishes no hubclientinfo sender endpoint", conn.Party())
	}
	auth := ocpi.AuthorizationHeader(token, conn.AuthMode, conn.Version)
	seen := map[string]bool{}
	for page := 0; next != ""; page++ {
		if page >= maxHubPages {
			return nil, nil, fmt.Errorf("hubclientinfo from %s: stopped after %d pages", conn.Party(), maxHubPages)
		}
		resp, err := c.Get(ctx, next, auth, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("hubclientinfo from %s: %w", conn.Party(), err)
		}
		var items []json.RawMessage
		if len(resp.Envelope.Data) > 0 {
			if err := json.Unmarshal(resp.Envelope.Data, &items); err != nil {
				return nil, nil, fmt.Errorf("hubclientinfo from %s: %s: data is not a list: %w", conn.Party(), next, err)
			}
		}
		for i, raw := range items {
			ci, probs := ocpi.DecodeClientInfo(raw, nil)
			if len(probs) > 0 {
				skipped = append(skipped, fmt.Sprintf("item %d of %s: %s", i, next, probs[0]))
				continue
			}
			if !seen[ci.Party()] {
				seen[ci.Party()] = true
				clients = append(clients, ci)
			}
		}
		link, more := ocpi.NextLink(resp.Header.Get("Link"))
		if more && link == next {
			return nil, nil, fmt.Errorf("hubclientinfo from %s: the Link header points at the same page %s", conn.Party(), next)
		}
		next = ""
		if more {
			next = link
		}
	}
	ocpi.SortClients(clients)
	return clients, skipped, nil
}

// RefreshHub reads a hub's client list and stores it on the connection. A
// connection that is not a hub, or a hub without a hubclientinfo Sender
// endpoint (2.3.0 hubs list their parties in their credentials), is
// returned unchanged.
func RefreshHub(ctx context.Context, c *Client, hubs HubStore, conn ocpi.Connection, token string, now time.Time) (ocpi.Connection, []string, error) {
	if !conn.IsHub() {
		return conn, nil, nil
	}
	if _, ok := (ocpi.VersionDetails{Endpoints: conn.Endpoints}).Find(ocpi.ModuleHubClientInfo, ocpi.InterfaceSender); !ok {
		return conn, nil, nil
	}
	clients, skipped, err := c.HubClients(ctx, conn, token)
	if err != nil {
		return conn, skipped, err
	}
	if err := hubs.SaveHubClients(ctx, conn.ID, clients, now); err != nil {
		return conn, skipped, err
	}
	conn.HubClients, conn.HubClientsAt = clients, now.UTC()
	return conn, skipped, nil
}
