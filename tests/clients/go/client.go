// SPDX-License-Identifier: Apache-2.0

package main

// BEGIN docs/clients.md go-redis
import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
)

// newClient returns a client that always talks to the current master.
// sentinels: every Sentinel pod FQDN with port 26379; user: "" or the ACL user ("app");
// caFile: "" without TLS, else the ca.crt of the release's TLS Secret.
func newClient(sentinels []string, masterSet, user, password, caFile string) (*redis.Client, error) {
	opts := &redis.FailoverOptions{
		MasterName:    masterSet,
		SentinelAddrs: sentinels,
		// Sentinel and Redis both require the password (the chart's auth.enabled default).
		SentinelUsername: user,
		SentinelPassword: password,
		Username:         user,
		Password:         password,
		// The default DialTimeout is 5 s: a dial to a dead pod or Sentinel would hang that long.
		DialTimeout:  500 * time.Millisecond,
		ReadTimeout:  1 * time.Second,
		WriteTimeout: 1 * time.Second,
		// Constant 100 ms between retries (min = max), enough retries to outlast a failover
		// (~3-4 s normally, up to 2 x failover-timeout when a Sentinel vote splits).
		MaxRetries:      100,
		MinRetryBackoff: 100 * time.Millisecond,
		MaxRetryBackoff: 100 * time.Millisecond,
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", caFile)
		}
		// No ServerName: Go verifies each connection against the host it dials, i.e. the
		// Sentinel FQDN you listed and the master FQDN Sentinel reports.
		opts.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return redis.NewFailoverClient(opts), nil
}

// END docs/clients.md go-redis
