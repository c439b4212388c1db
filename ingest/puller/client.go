package puller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// Client makes OCPI requests to a partner: it wraps requests in the
// Authorization header, unwraps response envelopes, and retries GETs that
// failed with a 5xx, 429 or a network error with exponential backoff and
// jitter, a bounded number of times. A 429 or 503 with Retry-After (seconds
// or an HTTP date) waits as long as the partner asks instead, within
// MaxWait over all tries of one GET: a partner asking for more is an error
// at once, naming the wait it asked for.
type Client struct {
	HTTP *http.Client
	// Attempts is the number of tries of one GET (default 5).
	Attempts int
	// Backoff is the first wait between tries, doubled each time with up to
	// 50 % jitter (default 200 ms), never more than MaxBackoff (default 5 s).
	Backoff, MaxBackoff time.Duration
	// MaxWait bounds the total time one GET waits between its tries
	// (default 2 minutes).
	MaxWait time.Duration
	// MaxBody bounds a response body (default 64 MiB).
	MaxBody int64
	// sleep waits between tries and now reads the clock (for Retry-After
	// dates); tests replace them.
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time
}

// Response is one OCPI answer.
type Response struct {
	HTTPStatus int
	Header     http.Header
	Envelope   ocpi.Envelope
	URL        string
}

// StatusError is a request that got an answer other than HTTP 2xx with an
// OCPI success code.
type StatusError struct {
	URL        string
	HTTPStatus int
	OCPIStatus ocpi.StatusCode
	Message    string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d, OCPI %d %s", e.URL, e.HTTPStatus, e.OCPIStatus, e.Message)
}

func (c *Client) defaults() {
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Attempts <= 0 {
		c.Attempts = 5
	}
	if c.Backoff <= 0 {
		c.Backoff = 200 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 64 << 20
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 2 * time.Minute
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
}

// Get fetches url with retries. It returns the response of the last try;
// the error is a *StatusError for an OCPI or HTTP failure.
func (c *Client) Get(ctx context.Context, url, authorization string, header http.Header) (*Response, error) {
	c.defaults()
	wait := c.Backoff
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		resp, err := c.do(ctx, http.MethodGet, url, authorization, header, nil)
		if err == nil || !retryable(resp, err) || attempt >= c.Attempts || ctx.Err() != nil {
			return resp, err
		}
		d := wait/2 + rand.N(wait/2+1)
		if asked, ok := retryAfter(resp, c.now()); ok {
			if waited+asked > c.MaxWait {
				return resp, fmt.Errorf("%w; the partner asks to retry after %v, more than the %v this request may still wait (of %v)",
					err, asked, max(c.MaxWait-waited, 0), c.MaxWait)
			}
			d = asked
		}
		d = min(d, max(c.MaxWait-waited, 0))
		if err2 := c.sleep(ctx, d); err2 != nil {
			return nil, errors.Join(err, err2)
		}
		waited += d
		wait = min(2*wait, c.MaxBackoff)
	}
}

// retryAfter reads the Retry-After header of a 429 or 503 answer: a number
// of seconds or an HTTP date (RFC 9110 10.2.3). A date in the past means
// now.
func retryAfter(resp *Response, now time.Time) (time.Duration, bool) {
	if resp == nil || (resp.HTTPStatus != http.StatusTooManyRequests && resp.HTTPStatus != http.StatusServiceUnavailable) {
		return 0, false
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Duration(min(n, 1<<32)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Send makes one request with a body (POST, PUT) or without (DELETE); it is
// not retried (digest 1.10: failed pushes are not replayed).
func (c *Client) Send(ctx context.Context, method, url, authorization string, body []byte) (*Response, error) {
	c.defaults()
	return c.do(ctx, method, url, authorization, nil, body)
}

func retryable(resp *Response, err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.HTTPStatus >= 500 || se.HTTPStatus == http.StatusTooManyRequests
	}
	var ne net.Error
	return resp == nil && (errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, errBadBody))
}

var errBadBody = errors.New("response is not an OCPI envelope")

func (c *Client) do(ctx context.Context, method, url, authorization string, header http.Header, body []byte) (*Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", authorization)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, c.MaxBody+1))
	if err != nil {
		return nil, err
	}
	out := &Response{HTTPStatus: res.StatusCode, Header: res.Header, URL: url}
	if int64(len(raw)) > c.MaxBody {
		return out, fmt.Errorf("%s: response over %d bytes", url, c.MaxBody)
	}
	env, envErr := ocpi.UnmarshalEnvelope(raw)
	out.Envelope = env
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return out, &StatusError{URL: url, HTTPStatus: res.StatusCode, OCPIStatus: env.StatusCode, Message: env.StatusMessage}
	}
	if envErr != nil {
		return nil, fmt.Errorf("%s: %w: %v", url, errBadBody, envErr)
	}
	if !env.StatusCode.Success() {
		return out, &StatusError{URL: url, HTTPStatus: res.StatusCode, OCPIStatus: env.StatusCode, Message: env.StatusMessage}
	}
	return out, nil
}

// Versions fetches a versions endpoint.
func (c *Client) Versions(ctx context.Context, url, authorization string) ([]ocpi.VersionInfo, error) {
	resp, err := c.Get(ctx, url, authorization, nil)
	if err != nil {
		return nil, err
	}
	var vs []ocpi.VersionInfo
	if err := jsonStrict(resp.Envelope.Data, &vs); err != nil {
		return nil, fmt.Errorf("%s: versions: %w", url, err)
	}
	return vs, nil
}

// Details fetches a version details endpoint.
func (c *Client) Details(ctx context.Context, url, authorization string) (ocpi.VersionDetails, error) {
	var d ocpi.VersionDetails
	resp, err := c.Get(ctx, url, authorization, nil)
	if err != nil {
		return d, err
	}
	if err := jsonStrict(resp.Envelope.Data, &d); err != nil {
		return d, fmt.Errorf("%s: version details: %w", url, err)
	}
	return d, nil
}

// DiscoverVersion reads a partner's versions endpoint and the details of the
// wanted version (the highest common one when want is empty).
func (c *Client) DiscoverVersion(ctx context.Context, versionsURL, authorization string, want ocpi.Version) (ocpi.VersionDetails, error) {
	vs, err := c.Versions(ctx, versionsURL, authorization)
	if err != nil {
		return ocpi.VersionDetails{}, err
	}
	var chosen ocpi.VersionInfo
	var ok bool
	if want == "" {
		chosen, ok = ocpi.HighestCommonVersion(vs)
	} else {
		for _, v := range vs {
			if v.Version == want {
				chosen, ok = v, true
			}
		}
	}
	if !ok {
		return ocpi.VersionDetails{}, &StatusError{URL: versionsURL, HTTPStatus: 200, OCPIStatus: ocpi.StatusUnsupportedVersion,
			Message: fmt.Sprintf("no common version (want %q, partner offers %v)", want, vs)}
	}
	d, err := c.Details(ctx, chosen.URL, authorization)
	if err != nil {
		return d, err
	}
	if d.Version == "" {
		d.Version = chosen.Version
	}
	return d, nil
}

// itoa keeps strconv in one place for headers.
func itoa(n int) string { return strconv.Itoa(n) }
