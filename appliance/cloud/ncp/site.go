package ncp

import (
	"fmt"
	"strings"
)

// Site is an NCP site: the public cloud, the government cloud or the financial
// cloud. Each has its own API gateway.
type Site string

// The NCP sites.
const (
	SitePublic Site = "public"
	SiteGov    Site = "gov"
	SiteFin    Site = "fin"
)

// API gateway base URLs of the sites. Paths below them start with
// /vserver/v2/.
const (
	PublicAPIURL = "https://ncloud.apigw.ntruss.com"
	GovAPIURL    = "https://ncloud.apigw.gov-ntruss.com"
	FinAPIURL    = "https://fin-ncloud.apigw.fin-ntruss.com"
)

// DefaultMetadataURL is the VPC metadata service, reachable only from inside
// an NCP VPC server.
const DefaultMetadataURL = "http://169.254.169.254"

// ParseSite returns the Site named s; "" is the public site. The match ignores
// case and surrounding space.
func ParseSite(s string) (Site, error) {
	switch Site(strings.ToLower(strings.TrimSpace(s))) {
	case "", SitePublic:
		return SitePublic, nil
	case SiteGov:
		return SiteGov, nil
	case SiteFin:
		return SiteFin, nil
	}
	return "", fmt.Errorf("ncp: unknown site %q (want %q, %q or %q)", s, SitePublic, SiteGov, SiteFin)
}

// APIURL returns the site's API gateway base URL, or "" for an unknown site.
func (s Site) APIURL() string {
	switch s {
	case "", SitePublic:
		return PublicAPIURL
	case SiteGov:
		return GovAPIURL
	case SiteFin:
		return FinAPIURL
	}
	return ""
}
