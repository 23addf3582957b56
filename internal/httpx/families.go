package httpx

import "github.com/prometheus/client_golang/prometheus"

// Families both servers count into, defined once so that each server's
// registration joins the other's (see MustRegister). Each is curried with
// the server's name; a nil reg gives nil.

// SignIns counts sign-ins by outcome: password logins at the authserver,
// callbacks at the proxy.
func SignIns(reg prometheus.Registerer, server string) *prometheus.CounterVec {
	return curried(reg, server, prometheus.CounterOpts{
		Name: "gatehouse_sign_ins_total",
		Help: "Sign-ins by server and outcome: authserver password logins, proxy callbacks from the provider.",
	}, "outcome")
}

// StoreErrors counts failures of a server's store (the authserver's
// database, the proxy's session store) by operation.
func StoreErrors(reg prometheus.Registerer, server string) *prometheus.CounterVec {
	return curried(reg, server, prometheus.CounterOpts{
		Name: "gatehouse_store_errors_total",
		Help: "Store operations that failed (not counting answers such as not found), by server and operation.",
	}, "operation")
}

func curried(reg prometheus.Registerer, server string, opts prometheus.CounterOpts, label string) *prometheus.CounterVec {
	if reg == nil {
		return nil
	}
	vec := MustRegister(reg, prometheus.NewCounterVec(opts, []string{"server", label}))
	return vec.MustCurryWith(prometheus.Labels{"server": server})
}
