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
		JWKSURI                           string   `json:"jwks_uri"`
		ScopesSupported                   []string `json:"scopes_supported"`
		ResponseTypesSupported            []string `json:"response_types_supported"`
		ResponseModesSupported            []string `json:"response_modes_supported"`
		GrantTypesSupported               []string `json:"grant_types_supported"`
		SubjectTypesSupported             []string `json:"subject_types_supported"`
		IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
		TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
		CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
		ClaimsSupported                   []string `json:"claims_supported"`
		PromptValuesSupported             []string `json:"prompt_values_supported"`
		ClaimsParameterSupported          bool     `json:"claims_parameter_supported"`
		RequestParameterSupported         bool     `json:"request_parameter_supported"`
		RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
		AuthorizationResponseISSSupported bool     `json:"authorization_response_iss_parameter_supported"`
	}{
		Issuer:                            s.cfg.Issuer,
		AuthorizationEndpoint:             s.url(PathAuthorize),
		TokenEndpoint:                     s.url(PathToken),
		UserInfoEndpoint:                  s.url(PathUserInfo),
		JWKSURI:                           s.url(PathKeys),
		ScopesSupported:                   []string{"openid", "profile", "email", "groups", "offline_access"},
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{grantAuthorizationCode, grantRefreshToken},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  s.keys.Algorithms(),
		TokenEndpointAuthMethodsSupported: []string{directory.AuthClientSecretBasic, directory.AuthClientSecretPost, directory.AuthNone},
		CodeChallengeMethodsSupported:     []string{"S256"},
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp",
			"name", "preferred_username", "email", "email_verified", "groups"},
		PromptValuesSupported:             []string{"none", "login", "consent", "select_account"},
		AuthorizationResponseISSSupported: true,
	})
}

func (s *Server) handleDiscovery(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(s.discovery)
}
