// Package htmlform reads the forms of an HTML page the way a browser would
// submit them. Tests use it to script sign-ins through the real pages.
package htmlform

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// Form is an HTML form: where it posts and the values it would send.
type Form struct {
	Action  *url.URL
	Method  string
	Fields  url.Values          // hidden and text inputs, and checked checkboxes, with their values
	Buttons map[string][]string // submit buttons: name -> values
}

// Parse returns the forms of body, with actions resolved against base.
func Parse(base *url.URL, body string) ([]Form, error) {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", base, err)
	}
	var forms []Form
	var cur *Form
	var walk func(n *html.Node) error
	walk = func(n *html.Node) error {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				action, err := base.Parse(attr(n, "action"))
				if err != nil {
					return fmt.Errorf("form action on %s: %w", base, err)
				}
				method := strings.ToUpper(attr(n, "method"))
				if method == "" {
					method = http.MethodGet
				}
				forms = append(forms, Form{Action: action, Method: method, Fields: url.Values{}, Buttons: map[string][]string{}})
				cur = &forms[len(forms)-1]
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					if err := walk(c); err != nil {
						return err
					}
				}
				cur = nil
				return nil
			case "input":
				if cur != nil && attr(n, "name") != "" {
					if typ := strings.ToLower(attr(n, "type")); typ == "submit" {
						cur.Buttons[attr(n, "name")] = append(cur.Buttons[attr(n, "name")], attr(n, "value"))
					} else if typ != "checkbox" || hasAttr(n, "checked") {
						cur.Fields.Add(attr(n, "name"), attr(n, "value"))
					}
				}
			case "button":
				if cur != nil && attr(n, "name") != "" {
					cur.Buttons[attr(n, "name")] = append(cur.Buttons[attr(n, "name")], attr(n, "value"))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(doc); err != nil {
		return nil, err
	}
	return forms, nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}
