package proxy

import (
	"fmt"
	"net/netip"
)

// trustedProxies are the networks whose forwarding headers are believed.
type trustedProxies []netip.Prefix

func compileTrustedProxies(list []string, ps *problems) trustedProxies {
	var t trustedProxies
	for i, s := range list {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				ps.add(fmt.Sprintf("trusted_proxies[%d]", i), "%q is not an address or CIDR such as 10.0.0.0/8 or 127.0.0.1", s)
				continue
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		if pfx.Bits() == 0 {
			ps.add(fmt.Sprintf("trusted_proxies[%d]", i), "%s trusts every address, so any client could claim to be anyone's proxy; list your edge proxies' networks", s)
			continue
		}
		t = append(t, pfx.Masked())
	}
	return t
}

// contains reports whether remoteAddr (host:port, as in
// http.Request.RemoteAddr) is a trusted proxy.
func (t trustedProxies) contains(remoteAddr string) bool {
	if len(t) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, p := range t {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
