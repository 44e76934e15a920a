package ncp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// APIPathPrefix is where the VPC server API lives below a gateway's base URL.
const APIPathPrefix = "/vserver/v2/"

// The API actions the client calls.
const (
	ActionGetNetworkInterfaceList = "getNetworkInterfaceList"
	ActionAssignSecondaryIPs      = "assignSecondaryIps"
)

// MaxSecondaryIPsPerCall is how many addresses one assignSecondaryIps call
// takes (secondaryIpList.N, "up to 5" in NCP's API guide).
const MaxSecondaryIPsPerCall = 5

// DefaultTimeout bounds one HTTP call to the API gateway.
const DefaultTimeout = 5 * time.Second

// ClientConfig configures a Client. Credentials is required.
type ClientConfig struct {
	Site        Site   // used when BaseURL is ""; "" = public
	BaseURL     string // overrides the site's gateway (tests, private endpoints)
	Credentials CredentialsProvider
	HTTPClient  *http.Client     // default: a client that does not follow redirects
	Timeout     time.Duration    // per HTTP call; default DefaultTimeout
	Now         func() time.Time // the clock for x-ncp-apigw-timestamp; default time.Now
}

// Client calls the NCP VPC server API (vserver/v2) through the API gateway.
// It is safe for concurrent use.
type Client struct {
	base    *url.URL
	creds   CredentialsProvider
	hc      *http.Client
	timeout time.Duration
	now     func() time.Time
}

// NewClient returns a Client.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Credentials == nil {
		return nil, errors.New("ncp: client needs a credentials provider")
	}
	raw := cfg.BaseURL
	if raw == "" {
		raw = cfg.Site.APIURL()
		if raw == "" {
			_, err := ParseSite(string(cfg.Site))
			return nil, err
		}
	}
	base, err := parseBaseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("ncp: API URL: %w", err)
	}
	c := &Client{base: base, creds: cfg.Credentials, hc: cfg.HTTPClient, timeout: cfg.Timeout, now: cfg.Now}
	if c.hc == nil {
		// A redirect would replay the signature for another URI; surface it
		// as an error instead.
		c.hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// NetworkInterface is one network interface as the API describes it.
type NetworkInterface struct {
	NetworkInterfaceNo string
	Name               string
	DeviceName         string // eth0, eth1, ...
	InstanceNo         string // the server instance it is attached to
	SubnetNo           string
	IP                 netip.Addr // its primary private IP
	SecondaryIPs       []netip.Addr
	Status             string // networkInterfaceStatus code: SET, UNSET, USED, NOTUSED
	IsDefault          bool
	MACAddress         string
}

// HasSecondaryIPs reports whether every ip is a secondary IP of the NIC.
func (n NetworkInterface) HasSecondaryIPs(ips ...netip.Addr) bool {
	for _, ip := range ips {
		if !slices.Contains(n.SecondaryIPs, ip.Unmap()) {
			return false
		}
	}
	return true
}

// NetworkInterfaceFilter selects network interfaces; empty fields do not
// filter.
type NetworkInterfaceFilter struct {
	Region              string // regionCode; "" = NCP's default (its first region)
	InstanceNo          string // instanceNo: the server instance number
	DeviceName          string // deviceName: eth0, eth1, eth2
	NetworkInterfaceNos []string
	SecondaryIPs        []netip.Addr // NICs holding these secondary IPs
}

// GetNetworkInterfaceList returns the network interfaces that match f.
func (c *Client) GetNetworkInterfaceList(ctx context.Context, f NetworkInterfaceFilter) ([]NetworkInterface, error) {
	q := url.Values{}
	setIf(q, "regionCode", f.Region)
	setIf(q, "instanceNo", f.InstanceNo)
	setIf(q, "deviceName", f.DeviceName)
	for i, no := range f.NetworkInterfaceNos {
		q.Set("networkInterfaceNoList."+strconv.Itoa(i+1), no)
	}
	for i, ip := range f.SecondaryIPs {
		q.Set("secondaryIpList."+strconv.Itoa(i+1), ip.Unmap().String())
	}
	raw, err := c.call(ctx, ActionGetNetworkInterfaceList, q)
	if err != nil {
		return nil, err
	}
	return decodeNICs(ActionGetNetworkInterfaceList, raw)
}

// AssignSecondaryIPsInput is an assignSecondaryIps request.
type AssignSecondaryIPsInput struct {
	Region             string
	NetworkInterfaceNo string
	IPs                []netip.Addr // 1 to MaxSecondaryIPsPerCall IPv4 addresses
	// AllowReassign lets NCP take an IP that is a secondary IP of another
	// NIC (the old master's) in the same call.
	AllowReassign bool
}

// AssignSecondaryIPs makes in.IPs secondary IPs of the NIC and returns the
// NIC as NCP reports it after the call.
func (c *Client) AssignSecondaryIPs(ctx context.Context, in AssignSecondaryIPsInput) ([]NetworkInterface, error) {
	if in.NetworkInterfaceNo == "" {
		return nil, errors.New("ncp: assignSecondaryIps: no network interface number")
	}
	if len(in.IPs) == 0 || len(in.IPs) > MaxSecondaryIPsPerCall {
		return nil, fmt.Errorf("ncp: assignSecondaryIps: %d addresses, want 1 to %d", len(in.IPs), MaxSecondaryIPsPerCall)
	}
	q := url.Values{}
	setIf(q, "regionCode", in.Region)
	q.Set("networkInterfaceNo", in.NetworkInterfaceNo)
	for i, ip := range in.IPs {
		ip = ip.Unmap()
		if !ip.Is4() {
			return nil, fmt.Errorf("ncp: assignSecondaryIps: %v is not an IPv4 address", ip)
		}
		q.Set("secondaryIpList."+strconv.Itoa(i+1), ip.String())
	}
	q.Set("allowReassign", strconv.FormatBool(in.AllowReassign))
	raw, err := c.call(ctx, ActionAssignSecondaryIPs, q)
	if err != nil {
		return nil, err
	}
	return decodeNICs(ActionAssignSecondaryIPs, raw)
}

func setIf(q url.Values, key, value string) {
	if value != "" {
		q.Set(key, value)
	}
}

// commonResponse holds the fields every vserver answer carries.
type commonResponse struct {
	ReturnCode    flexString `json:"returnCode"`
	ReturnMessage string     `json:"returnMessage"`
}

// call sends one signed GET for action and returns the body of its
// "<action>Response" object.
func (c *Client) call(ctx context.Context, action string, q url.Values) (json.RawMessage, error) {
	creds, err := c.creds.Credentials(ctx)
	if err != nil {
		return nil, fmt.Errorf("ncp: %s: credentials from %s: %w", action, c.creds.Source(), err)
	}
	q.Set("responseFormatType", "json")
	u := c.base.JoinPath(APIPathPrefix, action)
	u.RawQuery = q.Encode()

	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(callCtx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("ncp: %s: %w", action, err)
	}
	req.Header.Set("Accept", "application/json")
	SignRequest(req, creds, c.now())

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, transportError(ctx, action, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, transportError(ctx, action, err)
	}

	if apiErr := parseError(action, resp.StatusCode, resp.Header, body); apiErr != nil {
		if apiErr.AuthFailure() {
			// Server Role keys may have been rotated early: fetch new ones
			// for the next call.
			if inv, ok := c.creds.(invalidator); ok {
				inv.Invalidate()
			}
		}
		return nil, apiErr
	}

	var outer map[string]json.RawMessage
	if err := json.Unmarshal(body, &outer); err != nil {
		return nil, &APIError{Action: action, HTTPStatus: resp.StatusCode, Source: SourceHTTP,
			Message: "answer is not JSON: " + snippet(body)}
	}
	inner, ok := outer[action+"Response"]
	if !ok {
		return nil, &APIError{Action: action, HTTPStatus: resp.StatusCode, Source: SourceHTTP,
			Message: "answer has no " + action + "Response: " + snippet(body)}
	}
	var common commonResponse
	if err := json.Unmarshal(inner, &common); err != nil {
		return nil, fmt.Errorf("ncp: %s: decoding the answer: %w", action, err)
	}
	if common.ReturnCode != "" && common.ReturnCode != "0" {
		return nil, &APIError{Action: action, HTTPStatus: resp.StatusCode, Source: SourceAPI,
			Code: string(common.ReturnCode), Message: common.ReturnMessage}
	}
	return inner, nil
}

type nicJSON struct {
	NetworkInterfaceNo     flexString `json:"networkInterfaceNo"`
	NetworkInterfaceName   string     `json:"networkInterfaceName"`
	SubnetNo               flexString `json:"subnetNo"`
	IsDefault              bool       `json:"isDefault"`
	DeviceName             string     `json:"deviceName"`
	NetworkInterfaceStatus *struct {
		Code string `json:"code"`
	} `json:"networkInterfaceStatus"`
	InstanceNo      flexString `json:"instanceNo"`
	IP              string     `json:"ip"`
	MACAddress      string     `json:"macAddress"`
	SecondaryIPList []string   `json:"secondaryIpList"`
}

func decodeNICs(action string, raw json.RawMessage) ([]NetworkInterface, error) {
	var body struct {
		NetworkInterfaceList []nicJSON `json:"networkInterfaceList"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("ncp: %s: decoding networkInterfaceList: %w", action, err)
	}
	nics := make([]NetworkInterface, 0, len(body.NetworkInterfaceList))
	for _, j := range body.NetworkInterfaceList {
		n := NetworkInterface{
			NetworkInterfaceNo: string(j.NetworkInterfaceNo),
			Name:               j.NetworkInterfaceName,
			DeviceName:         j.DeviceName,
			InstanceNo:         string(j.InstanceNo),
			SubnetNo:           string(j.SubnetNo),
			IsDefault:          j.IsDefault,
			MACAddress:         j.MACAddress,
		}
		if j.NetworkInterfaceStatus != nil {
			n.Status = j.NetworkInterfaceStatus.Code
		}
		if j.IP != "" {
			ip, err := netip.ParseAddr(j.IP)
			if err != nil {
				return nil, fmt.Errorf("ncp: %s: network interface %s: ip %q is not an address", action, n.NetworkInterfaceNo, j.IP)
			}
			n.IP = ip
		}
		for _, s := range j.SecondaryIPList {
			ip, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("ncp: %s: network interface %s: secondary IP %q is not an address", action, n.NetworkInterfaceNo, s)
			}
			n.SecondaryIPs = append(n.SecondaryIPs, ip.Unmap())
		}
		nics = append(nics, n)
	}
	return nics, nil
}

// transportError classifies a failed exchange: the caller's own cancellation
// is returned as such (not retryable), anything else as a *TransportError.
func transportError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("ncp: %s: %w", op, ctxErr)
	}
	return &TransportError{Op: op, Err: err}
}

func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q: scheme must be http or https", raw)
	case u.Host == "":
		return nil, fmt.Errorf("%q: no host", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%q: must be scheme://host[:port][/path] only", raw)
	}
	return u, nil
}
