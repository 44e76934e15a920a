// Package e2e holds the end-to-end tests: real proxypair processes, real
// keepalived and HAProxy, in network namespaces built by internal/lab. They
// need root and skip without it.
package e2e
