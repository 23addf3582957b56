// Package memory keeps the authorization server's state in process memory.
// It is the backend for tests and for single-process demos: nothing survives
// a restart and nothing is shared between replicas.
package memory
