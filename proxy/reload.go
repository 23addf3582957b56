package proxy

// Reload replaces what the proxy does with requests by what cfg says:
// its Routes (with their policies, identity headers and upstreams),
// TrustedProxies, AllowedRedirectDomains and Bearer settings. Every other
// field of cfg is ignored: the provider, the public URL, cookies and
// sessions need a new Proxy. cfg is checked in full first; when it has
// problems Reload returns them as ConfigErrors and changes nothing.
//
// Requests already under way finish with the configuration they started
// with, and connections to clients stay open. Sessions, sign-outs,
// discovery and refreshes in progress carry over. The replaced upstream
// transports have their idle connections closed; connections still busy
// then close once idle for the transport's IdleConnTimeout.
func (p *Proxy) Reload(cfg Config) error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	next := p.cfg
	next.Routes, next.TrustedProxies = cfg.Routes, cfg.TrustedProxies
	next.AllowedRedirectDomains, next.Bearer = cfg.AllowedRedirectDomains, cfg.Bearer
	prev := p.state.Load()
	c, err := p.compile(&next, prev)
	if err != nil {
		return err
	}
	p.state.Store(c)
	prev.closeIdle()
	return nil
}
