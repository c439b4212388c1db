package puller

import (
	"encoding/json"
	"errors"
)

// jsonStrict decodes a configuration object (versions, details,
// credentials): malformed JSON and absent data are errors.
func jsonStrict(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return errors.New("no data in the response")
	}
	return json.Unmarshal(raw, v)
}
