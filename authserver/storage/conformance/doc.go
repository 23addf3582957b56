// Package conformance is the one test suite every storage.Store backend must
// pass. A backend's test calls RunTests with a constructor for fresh, empty
// stores, and RunReplicaTests with a constructor for two stores sharing one
// database when the backend can be shared.
package conformance
