package etcdserver

import "net/url"

// SetPickURL replaces how Start finds its ports, until the returned
// function restores it.
func SetPickURL(pick func() (*url.URL, error)) (restore func()) {
	old := pickURL
	pickURL = pick
	return func() { pickURL = old }
}
