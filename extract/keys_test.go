package extract

import "encoding/json"

// The keys of Affise's objects as the JSON carries them: the tests' own
// notion of a row's identity, which the keys the models decode (and Fetch
// de-duplicates by) are checked against.

// idKey is an object's "id" (a string's contents, or a number's text).
func idKey(item []byte) []byte {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(item, &v) != nil {
		return nil
	}
	return scalarKey(v.ID)
}

// mongoIDKey is a postback's "_id": {"$id": "..."} (or a plain "_id").
func mongoIDKey(item []byte) []byte {
	var v struct {
		ID json.RawMessage `json:"_id"`
	}
	if json.Unmarshal(item, &v) != nil || len(v.ID) == 0 {
		return nil
	}
	if v.ID[0] == '{' {
		var m struct {
			ID json.RawMessage `json:"$id"`
		}
		if json.Unmarshal(v.ID, &m) != nil {
			return nil
		}
		return scalarKey(m.ID)
	}
	return scalarKey(v.ID)
}

// sliceKey is a custom stats row's "slice" object as sent.
func sliceKey(item []byte) []byte {
	var v struct {
		Slice json.RawMessage `json:"slice"`
	}
	if json.Unmarshal(item, &v) != nil || len(v.Slice) == 0 {
		return nil
	}
	return v.Slice
}

func scalarKey(raw json.RawMessage) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []byte(s)
		}
	}
	return raw
}
