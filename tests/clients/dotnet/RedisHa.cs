// SPDX-License-Identifier: Apache-2.0
// Not compiled on the build machine (no .NET SDK there); `dotnet build` here checks it.

// BEGIN docs/clients.md StackExchange.Redis
using System.Collections.Generic;
using StackExchange.Redis;

public static class RedisHa
{
    // A multiplexer that always talks to the current master. sentinels: "host:port" of every
    // Sentinel pod FQDN; user: null or the ACL user ("app"); caFile: null without TLS, else
    // the ca.crt of the release's TLS Secret.
    public static ConnectionMultiplexer Connect(
        IEnumerable<string> sentinels, string masterSet, string? user, string password, string? caFile)
    {
        var options = new ConfigurationOptions
        {
            ServiceName = masterSet,   // Sentinel mode: the endpoints below are Sentinels
            User = user,
            Password = password,       // sent to Sentinel and to Redis alike
            ConnectTimeout = 500,      // ms per connect (default 5000)
            SyncTimeout = 1000,
            AsyncTimeout = 1000,
            AbortOnConnectFail = false,
            ReconnectRetryPolicy = new LinearRetry(200),
            Ssl = caFile != null,      // no SslHost: each connection checks the host it dials
        };
        foreach (var sentinel in sentinels)
        {
            options.EndPoints.Add(sentinel);
        }
        if (caFile != null)
        {
            options.TrustIssuer(caFile);
        }
        return ConnectionMultiplexer.Connect(options);
    }
}
// END docs/clients.md StackExchange.Redis
