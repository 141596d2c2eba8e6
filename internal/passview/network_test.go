package passview

import (
	"bytes"
	"strings"
	"testing"

	"github.com/syncd/syncd/pipeline"
)

// Passes of several networks get a NETWORK column (and a network in
// JSON); those of one network print as they always did.
func TestNetworkColumn(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, []Pass{{Result: pipeline.Result{Stream: "offers"}}}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "STREAM ") {
		t.Errorf("one network:\n%s", b.String())
	}
	b.Reset()
	passes := []Pass{{Network: "alpha", Result: pipeline.Result{Stream: "offers"}}, {Network: "beta", Result: pipeline.Result{Stream: "offers"}, Error: "HTTP 401"}}
	if err := WriteTable(&b, passes); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if !strings.HasPrefix(lines[0], "NETWORK  STREAM") || !strings.HasPrefix(lines[1], "alpha    offers") || !strings.HasSuffix(lines[2], "failed") {
		t.Errorf("two networks:\n%s", b.String())
	}
	b.Reset()
	if err := WriteJSON(&b, passes); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"network": "beta"`) {
		t.Errorf("json:\n%s", b.String())
	}
}
