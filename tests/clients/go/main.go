// SPDX-License-Identifier: Apache-2.0

// Command writer is the go-redis configuration from docs/clients.md (client.go), wrapped in a write loop
// for tests/clients/lab.py: it SETs a key every 10 ms through the Sentinel-managed master and
// prints "gap <start_ms> <end_ms>" whenever two successful writes are more than 200 ms apart.
// Environment: SENTINELS (comma-separated host:port), MASTER_SET, REDIS_PASSWORD, optional
// REDIS_USERNAME (ACL user, e.g. "app") and TLS_CA_FILE (turns TLS on).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	rdb, err := newClient(strings.Split(os.Getenv("SENTINELS"), ","), os.Getenv("MASTER_SET"),
		os.Getenv("REDIS_USERNAME"), os.Getenv("REDIS_PASSWORD"), os.Getenv("TLS_CA_FILE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer rdb.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ms := func(t time.Time) float64 { return float64(t.UnixNano()) / 1e6 }
	last := time.Now()
	failing := false
	for i := 0; ctx.Err() == nil; i++ {
		err := rdb.Set(ctx, "lab:go", i, 0).Err()
		now := time.Now()
		if err != nil {
			if !failing && ctx.Err() == nil {
				fmt.Printf("err %.0f %v\n", ms(now), err)
			}
			failing = true
		} else {
			if now.Sub(last) > 200*time.Millisecond {
				fmt.Printf("gap %.0f %.0f\n", ms(last), ms(now))
			}
			last, failing = now, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
