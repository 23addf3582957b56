package authserver

import (
	"encoding/json"
	"net/http"

	"github.com/gatehouse/gatehouse/authserver/directory"
)

// discoveryDocument builds the OpenID Provider metadata (OpenID Connect
// Discovery §3, RFC 8414 §2). It depends only on the configuration and the
// key manager's algorithms, so it is built once.
func (s *Server) discoveryDocument() ([]byte, error) {
	return json.Marshal(struct {
		Issuer                            string   `json:"issuer"`
		AuthorizationEndpoint             string   `json:"authorization_endpoint"`
		TokenEndpoint                     string   `json:"token_endpoint"`
		UserInfoEndpoint                  string   `json:"userinfo_endpoint"`
		RevocationEndpoint                string   `json:"revocation_endpoint"`
		IntrospectionEndpoint             string   `json:"introspection_endpoint"`
		JWKSURI                           string   `json:"jwks_uri"`
		ScopesSupported                   []string `json:"scopes_supported"`
		ResponseTypesSupported            []string `json:"response_types_supported"`
		ResponseModesSupported            []string `json:"response_modes_supported"`
		GrantTypesSupported               []string `json:"grant_types_supported"`
		SubjectTypesSupported             []string `json:"subject_types_supported"`
		IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
		TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
		RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
		IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
		CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
		ClaimsSupported                   []string `json:"claims_supported"`
		PromptValuesSupported             []string `json:"prompt_values_supported"`
		ClaimsParameterSupported          bool     `json:"claims_parameter_supported"`
		RequestParameterSupported         bool     `json:"request_parameter_supported"`
		RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
		AuthorizationResponseISSSupported bool     `json:"authorization_response_iss_parameter_supported"`
		EndSessionEndpoint                string   `json:"end_session_endpoint"`
		BackchannelLogoutSupported        bool     `json:"backchannel_logout_supported"`
		BackchannelLogoutSessionSupported bool     `json:"backchannel_logout_session_supported"`
	}{
		Issuer:                            s.cfg.Issuer,
		AuthorizationEndpoint:             s.url(PathAuthorize),
		TokenEndpoint:                     s.url(PathToken),
		UserInfoEndpoint:                  s.url(PathUserInfo),
		RevocationEndpoint:                s.url(PathRevoke),
		IntrospectionEndpoint:             s.url(PathIntrospect),
		JWKSURI:                           s.url(PathKeys),
		ScopesSupported:                   []string{"openid", "profile", "email", "groups", "offline_access"},
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               supportedGrantTypes(),
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  s.keys.Algorithms(),
		TokenEndpointAuthMethodsSupported: []string{directory.AuthClientSecretBasic, directory.AuthClientSecretPost, directory.AuthNone},
		RevocationAuthMethodsSupported:    []string{directory.AuthClientSecretBasic, directory.AuthClientSecretPost, directory.AuthNone},
		// Introspection tells whether a token is live, so it needs a secret.
		IntrospectionAuthMethodsSupported: []string{directory.AuthClientSecretBasic, directory.AuthClientSecretPost},
		CodeChallengeMethodsSupported:     []string{"S256"},
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "sid",
			"name", "preferred_username", "email", "email_verified", "groups"},
		PromptValuesSupported:             []string{"none", "login", "consent", "select_account"},
		AuthorizationResponseISSSupported: true,
		EndSessionEndpoint:                s.url(PathEndSession),
		// ID tokens and logout tokens carry sid (Back-Channel Logout 1.0 §2.1).
		BackchannelLogoutSupported:        true,
		BackchannelLogoutSessionSupported: true,
	})
}

func (s *Server) handleDiscovery(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(s.discovery)
}
