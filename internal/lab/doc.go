// Package lab builds throw-away network labs out of Linux network namespaces
// for integration tests, benchmarks and the demo.
//
// A Lab is one bridge in a dedicated switch namespace plus any number of
// hosts, each a namespace with loopback and an "eth1" on 198.18.0.0/24
// plugged into the bridge. Processes run inside hosts with `ip netns exec`
// and are tracked by PID. Close stops them and deletes every namespace; New
// first sweeps whatever an interrupted earlier run left behind.
//
// Every name the lab creates starts with "pp-" followed by the creator's PID:
// namespaces are pp-<pid>-<lab>-<host> and the switch is pp-<pid>-<lab>-sw.
// The lab never touches the host's own interfaces nor namespaces without that
// prefix.
//
//	l := lab.NewT(t) // skips when not root; Close runs in t.Cleanup
//	a, _ := l.AddHost("node1", netip.MustParsePrefix("198.18.0.1/24"))
//	b, _ := l.AddHost("node2", netip.MustParsePrefix("198.18.0.2/24"))
//	out, err := b.Run(ctx, "ping", "-c1", a.Addr.Addr().String())
package lab
