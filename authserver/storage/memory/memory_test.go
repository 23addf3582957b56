package memory

import (
	"testing"

	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/authserver/storage/conformance"
)

func TestConformance(t *testing.T) {
	conformance.RunTests(t, func(*testing.T) storage.Store { return New() })
}
