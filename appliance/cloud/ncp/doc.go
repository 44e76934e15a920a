// Package ncp is a small, hand-written client for the Naver Cloud Platform
// (NCP) APIs that proxypair needs in a VPC, and the Claimer that moves the
// virtual IPs to this server's network interface when it becomes master.
//
// In an NCP VPC a gratuitous ARP does not move traffic: a VIP must be a
// secondary private IP of the master's network interface (NIC). The new master
// claims it with assignSecondaryIps and allowReassign=true, which takes the IP
// from the peer's NIC in the same call. Leaving master needs no call.
//
// The package has four parts, each usable on its own:
//
//   - Sign and the Client: API Gateway signing (x-ncp-apigw-signature-v2) and
//     the two vserver/v2 actions, getNetworkInterfaceList and
//     assignSecondaryIps, with both NCP error shapes turned into *APIError.
//   - Metadata: the VPC metadata service at 169.254.169.254 (token-based v2
//     first, plain v1 as a fallback): server instance number, region and the
//     Server Role's temporary keys.
//   - CredentialsProvider: explicit keys (config or NCLOUD_ACCESS_KEY /
//     NCLOUD_SECRET_KEY) or the Server Role's keys, cached and refreshed before
//     they expire.
//   - Claimer: what the daemon calls on becoming master. Claim retries with
//     capped exponential backoff and jitter until its context is cancelled,
//     fetches fresh Server Role keys when the gateway rejects them, and never
//     blocks the caller's VRRP loop when run in its own goroutine. Verify is
//     the master's periodic check: one call that says which VIPs our NIC
//     still holds, so the daemon can claim back the ones routed elsewhere.
//
// The NCP Go SDK is deliberately not used; only the standard library is.
// Secrets never appear in logs or error strings: Credentials redacts itself
// when formatted.
package ncp
