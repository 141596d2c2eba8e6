package daemon

import (
	"testing"

	"github.com/syncd/syncd/models"
)

// The alarm follows the declarations: of today's streams only clicks'
// source drops old rows, and a name outside the registry has no retention.
func TestRetentionFollowsTheRegistry(t *testing.T) {
	for _, name := range models.Names() {
		if got, want := hasRetention(name), name == "clicks"; got != want {
			t.Errorf("hasRetention(%q) = %v, want %v", name, got, want)
		}
	}
	if hasRetention("no_such_stream") {
		t.Error("a stream outside the registry has a retention")
	}
}
